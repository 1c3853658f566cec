--
-- PostgreSQL database dump
--

SET statement_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;

--
-- Name: item; Type: TABLE; Schema: public; Owner: postgres
--

CREATE TABLE public.item (
    id bigint NOT NULL,
    name character varying NOT NULL,
    broadcaster character varying NOT NULL,
    category character varying,
    price integer NOT NULL
);


ALTER TABLE public.item OWNER TO postgres;

--
-- Name: COLUMN item.name; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.item.name IS '방송상품명';


--
-- Name: COLUMN item.broadcaster; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.item.broadcaster IS '방송사';


--
-- Name: COLUMN item.category; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.item.category IS '방송 상품 카테고리';


--
-- Name: COLUMN item.price; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.item.price IS '상품가격';


--
-- Name: item_id_seq; Type: SEQUENCE; Schema: public; Owner: postgres
--

CREATE SEQUENCE public.item_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


ALTER TABLE public.item_id_seq OWNER TO postgres;

--
-- Name: item_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: postgres
--

ALTER SEQUENCE public.item_id_seq OWNED BY public.item.id;


--
-- Name: item id; Type: DEFAULT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.item ALTER COLUMN id SET DEFAULT nextval('public.item_id_seq'::regclass);


--
-- Data for Name: item; Type: TABLE DATA; Schema: public; Owner: postgres
--

COPY public.item (id, name, broadcaster, category, price) FROM stdin;
1	23SS 보국 선크림 세트	ssgshop	가전·디지털	1777100
2	22FW 오쏘몰 선크림 세트	gsshop	패션·잡화	251800
3	22FW 에코벨 압력밥솥	nsmall	가전·디지털	183800
4	[최저가]락앤락 무선청소기	nsmall	패션·잡화	208800
5	락앤락 속옷 10종	hmall	생활·주방	0
6	23SS 휘슬러 침대 프레임	ssgshop	가구·인테리어	1352500
7	[최저가]해피콜 속옷 10종	cjmall	스포츠·레저	1299100
8	[역대최다]르까프 냄비 5종	kshop	식품·건강	192000
9	22FW 락앤락 밀폐용기 24종	ssgshop	뷰티	58100
10	23SS 에코벨 공기청정기	hmall	뷰티	622200
11	23SS 락앤락 김치냉장고	cjmall	식품·건강	1343700
12	[방송한정]라쉬반 압력밥솥	wshop	가전·디지털	1412400
13	[1+1]시세이도 선크림 세트	wshop	뷰티	833800
14	[최저가]풀무원 선크림 세트	hmall	스포츠·레저	1020100
15	풀무원 밀폐용기 24종	gsshop	패션·잡화	1636300
16	[1+1]닥터지 수분크림 세트	ssgshop	가구·인테리어	105900
17	23SS 한샘 한우 선물세트 	hmall	유아·아동	660900
18	22FW 시세이도 압력밥솥	nsmall	뷰티	0
19	라쉬반 무선청소기	hmall	가구·인테리어	1170900
20	[최저가]락앤락 캐리어 세트	kshop	식품·건강	1821500
21	22FW 노스페이스 속옷 10종	ssgshop	패션·잡화	323100
22	[단독]시세이도 운동화 2종	hmall	가전·디지털	1105300
23	[최저가]쿠첸 캐리어 세트	gongyoung	\N	1666600
24	22FW 시세이도 전기요	hmall	생활·주방	92400
25	[역대최다]쿠첸 수분크림 세트	hmall	가전·디지털	896900
26	22FW 휘슬러 속옷 10종	ssgshop	가전·디지털	401500
27	22FW 해피콜 한우 선물세트	nsmall	뷰티	81500
28	22FW 쿠첸 속옷 10종	gongyoung	식품·건강	618400
29	[역대최다]보국 프라이팬 3종	kshop	식품·건강	875900
30	[1+1]오쏘몰 안마의자	nsmall	뷰티	1190500
31	[1+1]시세이도 패딩 점퍼	nsmall	스포츠·레저	0
32	[1+1]쿠쿠 압력밥솥	gongyoung	생활·주방	1287800
33	[단독]오쏘몰 선크림 세트	lotteimall	생활·주방	398200
34	[방송한정]노스페이스 기모 레깅스 4종 	gsshop	가전·디지털	1306100
35	[1+1]라쉬반 공기청정기	kshop	생활·주방	1477300
36	[방송한정]닥터지 전기밥솥	shoppingnt	패션·잡화	1635900
37	[방송한정]락앤락 무선청소기	cjmall	뷰티	117400
38	[1+1]락앤락 선크림 세트	ssgshop	패션·잡화	1276600
39	[방송한정]풀무원 압력밥솥	ssgshop	생활·주방	1298300
40	풀무원 침대 프레임	wshop	가전·디지털	1169700
41	[단독]풀무원 운동화 2종	kshop	스포츠·레저	1821900
42	[방송한정]휘슬러 김치냉장고	gongyoung	가구·인테리어	1761800
43	[최저가]락앤락 냄비 5종	shoppingnt	유아·아동	938200
44	[단독]노스페이스 선크림 세트	cjmall	패션·잡화	0
45	[단독]락앤락 냄비 5종	cjmall	뷰티	212800
46	[단독]풀무원 속옷 10종	cjmall	스포츠·레저	355000
47	[단독]르까프 전기밥솥	nsmall	스포츠·레저	707200
48	[역대최다]노스페이스 냄비 5종	nsmall	가구·인테리어	1556700
49	[방송한정]노스페이스 무선청소기	hmall	가전·디지털	1269300
50	[역대최다-13종]17WINTER 레그미인	cjmall	패션·잡화	78900
51	[단독]라쉬반 캐리어 세트 	wshop	가전·디지털	671900
52	[최저가]휘슬러 선크림 세트	gongyoung	가전·디지털	997700
53	[방송한정]쿠첸 냄비 5종	cjmall	가구·인테리어	564300
54	쿠쿠 냄비 5종	shoppingnt	유아·아동	1238900
55	[단독]휘슬러 전기밥솥	cjmall	패션·잡화	676600
56	23SS 풀무원 전기밥솥	lotteimall	스포츠·레저	815200
57	23SS 쿠쿠 패딩 점퍼	wshop	가구·인테리어	1059900
58	[역대최다]한샘 종합비타민 12주	lotteimall	가전·디지털	1888600
59	[단독]시세이도 종합비타민 12주	wshop	패션·잡화	558000
60	[1+1]에코벨 속옷 10종	gongyoung	뷰티	1279000
61	[역대최다]에코벨 수분크림 세트	hmall	패션·잡화	0
62	[단독]오쏘몰 밀폐용기 24종	gongyoung	패션·잡화	1467100
63	[최저가]에코벨 선크림 세트	wshop	가구·인테리어	662900
64	[방송한정]라쉬반 패딩 점퍼	shoppingnt	생활·주방	313600
65	[단독]휘슬러 냄비 5종	ssgshop	생활·주방	632900
66	[최저가]쿠첸 수분크림 세트	nsmall	뷰티	1616900
67	[1+1]노스페이스 패딩 점퍼	kshop	식품·건강	733900
68	[최저가]풀무원 김치냉장고 	lotteimall	패션·잡화	185800
69	[단독]쿠쿠 무선청소기	ssgshop	뷰티	620500
70	쿠쿠 운동화 2종	hmall	가구·인테리어	584300
71	[1+1]보국 선크림 세트	wshop	생활·주방	1341200
72	[단독]르까프 수분크림 세트	hmall	스포츠·레저	329100
73	23SS 쿠첸 전기요	cjmall	생활·주방	1524600
74	[단독]해피콜 기모 레깅스 4종	ssgshop	가구·인테리어	452400
75	[최저가]에코벨 기모 레깅스 4종	cjmall	뷰티	1240500
76	[1+1]휘슬러 기모 레깅스 4종	wshop	패션·잡화	45600
77	23SS 라쉬반 프라이팬 3종	shoppingnt	\N	920600
78	22FW 오쏘몰 전기밥솥	gongyoung	유아·아동	710000
79	[최저가]에코벨 패딩 점퍼	shoppingnt	생활·주방	1918700
80	쿠쿠 압력밥솥	gsshop	가전·디지털	1574000
81	[최저가]휘슬러 선크림 세트	cjmall	패션·잡화	703600
82	[1+1]쿠쿠 김치냉장고	cjmall	뷰티	1749400
83	[방송한정]노스페이스 김치냉장고	cjmall	가전·디지털	865000
84	22FW 닥터지 압력밥솥	hmall	가전·디지털	1403200
85	23SS 닥터지 전기요 	gsshop	뷰티	294600
86	22FW 시세이도 기모 레깅스 4종	nsmall	뷰티	1690900
87	23SS 닥터지 압력밥솥	lotteimall	유아·아동	942900
88	에코벨 종합비타민 12주	shoppingnt	가전·디지털	0
89	22FW 한샘 선크림 세트	nsmall	패션·잡화	804900
90	22FW 에코벨 종합비타민 12주	nsmall	뷰티	318100
91	[최저가]해피콜 김치냉장고	nsmall	가구·인테리어	1748400
92	[단독]쿠쿠 안마의자	gongyoung	가전·디지털	1205700
93	르까프 운동화 2종	ssgshop	패션·잡화	307900
94	[1+1]오쏘몰 수분크림 세트	cjmall	식품·건강	1154700
95	[방송한정]쿠쿠 무선청소기	hmall	스포츠·레저	1568700
96	23SS 보국 침대 프레임	gongyoung	뷰티	1720800
97	[방송한정]시세이도 선크림 세트	hmall	생활·주방	1091500
98	보국 침대 프레임	gsshop	식품·건강	733000
99	쿠쿠 수분크림 세트	nsmall	식품·건강	0
100	오쏘몰 한우 선물세트	nsmall	식품·건강	557500
\.


--
-- Name: item_id_seq; Type: SEQUENCE SET; Schema: public; Owner: postgres
--

SELECT pg_catalog.setval('public.item_id_seq', 100, true);


--
-- Name: item item_pkey; Type: CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.item
    ADD CONSTRAINT item_pkey PRIMARY KEY (id);


--
-- PostgreSQL database dump complete
--

