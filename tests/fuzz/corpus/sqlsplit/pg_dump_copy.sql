--
-- PostgreSQL database dump
--

\restrict Xk2

SET statement_timeout = 0;
SELECT pg_catalog.set_config('search_path', '', false);
CREATE TABLE public.t (a integer, b text);

COPY public.t (a, b) FROM stdin;
1	tab\there
2	\N
3	\\.
\.

SELECT pg_catalog.setval('public.s', 41, true);

\unrestrict Xk2
