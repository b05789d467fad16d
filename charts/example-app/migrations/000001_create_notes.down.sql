DROP TABLE notes.notes;
DROP SCHEMA notes;
