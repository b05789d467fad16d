COPY t FROM stdin; x
\.
COPY u FROM STDIN;
1
