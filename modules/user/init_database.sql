--
-- PostgreSQL database dump
--

SET statement_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;

--
-- Name: user; Type: TABLE; Schema: public; Owner: postgres
--

CREATE TABLE public."user" (
    id bigint NOT NULL,
    name character varying NOT NULL,
    access_token character varying NOT NULL
);


ALTER TABLE public."user" OWNER TO postgres;

--
-- Name: COLUMN "user".name; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public."user".name IS '방송상품명';


--
-- Name: COLUMN "user".access_token; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public."user".access_token IS '엑세스 토큰';


--
-- Name: user_id_seq; Type: SEQUENCE; Schema: public; Owner: postgres
--

CREATE SEQUENCE public.user_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


ALTER TABLE public.user_id_seq OWNER TO postgres;

--
-- Name: user_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: postgres
--

ALTER SEQUENCE public.user_id_seq OWNED BY public."user".id;


--
-- Name: user id; Type: DEFAULT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public."user" ALTER COLUMN id SET DEFAULT nextval('public.user_id_seq'::regclass);


--
-- Data for Name: user; Type: TABLE DATA; Schema: public; Owner: postgres
--

COPY public."user" (id, name, access_token) FROM stdin;
1	조다은	11db3def-bfa3-48af-b1ae-4b6e3835f434
2	정시우	cd4168b9-b2a1-4c7a-8102-bc562fd3be0c
3	한현우	887efec2-6746-4138-b6ca-003c149f97be
4	장현우	a925e72c-cd40-4475-841e-d2adea87e013
5	권준서	31d9e10d-35b0-465f-8c5b-5877a9b82a65
6	정지우	9c16f550-9e92-461c-ad2c-1772b0d08f50
7	정지민	f3734e17-92d9-4810-8a26-735adc6190bd
8	최지우	ae677aa6-be3d-44de-a93d-46686d4e65a8
9	임도윤	a519185b-e81e-4829-b0e7-1b594f9eb980
10	박규경	4a49145e-45a8-4845-af45-1af2a59bb044
11	정주원	6a62a53e-a206-4635-96aa-363a0913b6d1
12	한주원	4dcef6b9-e805-4c6f-8c28-5a213a08d3bb
13	장예준	14496c8e-989b-46be-8366-ace32eaf849c
14	박채원	19f0d14b-29ce-4558-8e35-2225d383f3c3
15	정서윤	817d8f83-db54-4bab-ae34-9691020cf99c
16	이서연	b2ee2562-2938-404f-a659-b8fec6c2a016
17	윤현우	3044df67-410d-4665-bf9f-4d0c7d3b26c5
18	이도윤	d11e1407-5326-45a9-9c21-bab6a386dd7e
19	오다은	fd60a80e-2681-4b97-bb4a-65d24d5417f2
20	오예준	608cf711-cae8-4d0f-bb16-d68d393db224
21	이예준	41c24601-ecb4-43a6-b283-337ade2aedd7
22	이지호	64e8cac1-f67c-4df6-a91f-d7599899a42d
23	오채원	33e0cffb-0287-42db-8add-4b398efabe66
24	김준서	b1f020d8-c8fd-46bb-a4e8-e13389a13980
25	오주원	803e388b-4000-4006-9555-edf36a8111c9
26	윤채원	decf342b-7a18-43b2-ad73-58bd2b695580
27	오서윤	4f24572d-0a8a-4910-bb37-e214f7fb019a
28	최지우	2f1e5d79-081c-406c-b56e-7fc11627ef86
29	박민준	c7fbdd3d-f411-49ee-b18e-24dc1912b273
30	윤서윤	35b80e99-c5ae-41c6-bae8-110dace99c4b
31	김채원	b3c9c457-4ffd-4996-b247-378fd008062a
32	윤수아	eb0fba2e-b3ac-4980-8728-4dc724062de4
33	강수아	fd524c3c-607c-4460-a244-1193766a0656
34	오서연	371b0636-7668-4d43-bc47-f00842341901
35	한지호	e678006e-e3d2-44fb-9135-f8c0ace16c80
36	권서연	84e20830-6846-4740-bb88-54423a1967ad
37	김시우	536d21a7-2a11-4485-aac6-3da678bb986c
38	이준서	70cc80da-25bb-4635-9ecb-92aca24c9dba
39	장주원	04899874-fb3e-4213-8612-dc6f90fb9ae8
40	윤지민	f7d725b3-a104-4c13-8721-f53293ae26e1
41	임다은	2532cc6d-c10c-4dd8-90be-7cd2a011f075
42	조서윤	79a11253-973d-429c-b3de-d97f20402640
43	권채원	d2f92d8c-76b8-4a58-bcf2-a552b1857065
44	임하은	ad109b1f-541f-40a4-9bbf-4d29d97ad708
45	조주원	8a2e11a3-a7c4-47f1-bb1c-1acd42fb8e22
46	장채원	5747218a-0dda-46e1-969f-c34b456a0d5f
47	서서윤	3f86e977-cd2b-4461-8be4-94a491a5e5da
48	권지우	5a531696-f06c-4019-8ef5-06c1f72b0c80
49	오현우	b13d4ead-985b-466e-97c9-b851931f885d
50	윤채원	0991824d-90c5-42b6-8351-fdf7649b9259
\.


--
-- Name: user_id_seq; Type: SEQUENCE SET; Schema: public; Owner: postgres
--

SELECT pg_catalog.setval('public.user_id_seq', 50, true);


--
-- Name: user user_pkey; Type: CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public."user"
    ADD CONSTRAINT user_pkey PRIMARY KEY (id);


--
-- PostgreSQL database dump complete
--

