#!/usr/bin/env python3
"""Writes the project's own init_database.sql files: the kit's DDL (pg_dump text) with our rows.

Run once; the output is committed. Deterministic (fixed seed), so re-running gives the same files.
"""
import random, uuid, pathlib

root = pathlib.Path(__file__).resolve().parent.parent / 'modules'
rnd = random.Random(20261123)

# pg_dump's text format, with only the settings that decide how the file loads (no time limit for
# the load, the encoding of its text, backslashes in string literals); the rest of pg_dump's
# preamble restates the defaults.
HEAD = """--
-- PostgreSQL database dump
--

SET statement_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
"""
TAIL = """
--
-- PostgreSQL database dump complete
--

"""

def esc(v):
    if v is None:
        return '\\N'
    return str(v).replace('\\', '\\\\').replace('\t', '\\t').replace('\n', '\\n').replace('\r', '\\r')

def table(name, quoted, columns_ddl, comments, seq_as_int, rows, cols, last_value, is_called):
    q = f'public.{quoted}'
    out = [HEAD, f"""
--
-- Name: {name}; Type: TABLE; Schema: public; Owner: postgres
--

CREATE TABLE {q} (
{columns_ddl}
);


ALTER TABLE {q} OWNER TO postgres;
"""]
    for col, text in comments:
        out.append(f"""
--
-- Name: COLUMN {quoted}.{col}; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN {q}.{col} IS '{text}';

""")
    as_int = '\n    AS integer' if seq_as_int else ''
    out.append(f"""
--
-- Name: {name}_id_seq; Type: SEQUENCE; Schema: public; Owner: postgres
--

CREATE SEQUENCE public.{name}_id_seq{as_int}
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


ALTER TABLE public.{name}_id_seq OWNER TO postgres;

--
-- Name: {name}_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: postgres
--

ALTER SEQUENCE public.{name}_id_seq OWNED BY {q}.id;


--
-- Name: {name} id; Type: DEFAULT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY {q} ALTER COLUMN id SET DEFAULT nextval('public.{name}_id_seq'::regclass);


--
-- Data for Name: {name}; Type: TABLE DATA; Schema: public; Owner: postgres
--

COPY {q} ({', '.join(cols)}) FROM stdin;
""")
    for r in rows:
        out.append('\t'.join(esc(v) for v in r) + '\n')
    out.append(f"""\\.


--
-- Name: {name}_id_seq; Type: SEQUENCE SET; Schema: public; Owner: postgres
--

SELECT pg_catalog.setval('public.{name}_id_seq', {last_value}, {is_called});


--
-- Name: {name} {name}_pkey; Type: CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY {q}
    ADD CONSTRAINT {name}_pkey PRIMARY KEY (id);

""")
    out.append(TAIL)
    return ''.join(out)

# ---- items
broadcasters = ['cjmall', 'gsshop', 'lotteimall', 'hmall', 'nsmall', 'kshop', 'ssgshop', 'shoppingnt', 'wshop', 'gongyoung']
categories = ['패션·잡화', '가전·디지털', '식품·건강', '생활·주방', '뷰티', '가구·인테리어', '스포츠·레저', '유아·아동']
brands = ['쿠쿠', '닥터지', '보국', '한샘', '르까프', '시세이도', '풀무원', '락앤락', '쿠첸', '휘슬러', '에코벨', '오쏘몰', '노스페이스', '라쉬반', '해피콜']
things = ['전기밥솥', '수분크림 세트', '전기요', '침대 프레임', '운동화 2종', '선크림 세트', '한우 선물세트', '밀폐용기 24종', '압력밥솥', '냄비 5종',
          '무선청소기', '종합비타민 12주', '패딩 점퍼', '기모 레깅스 4종', '프라이팬 3종', '안마의자', '공기청정기', '김치냉장고', '속옷 10종', '캐리어 세트']
prefixes = ['', '[단독]', '[방송한정]', '[1+1]', '[역대최다]', '[최저가]', '22FW ', '23SS ']
items = []
for i in range(1, 101):
    if i == 50:
        items.append((50, '[역대최다-13종]17WINTER 레그미인', 'cjmall', '패션·잡화', 78900))
        continue
    name = f"{rnd.choice(prefixes)}{rnd.choice(brands)} {rnd.choice(things)}"
    if i % 17 == 0:
        name += ' '  # the kit has names ending with a space; keep such bytes exact
    category = None if i in (23, 77) else rnd.choice(categories)
    price = 0 if i in (5, 18, 31, 44, 61, 88, 99) else rnd.randrange(9900, 1990000, 100)
    items.append((i, name, rnd.choice(broadcasters), category, price))

(root / 'item' / 'init_database.sql').write_text(table(
    'item', 'item',
    """    id bigint NOT NULL,
    name character varying NOT NULL,
    broadcaster character varying NOT NULL,
    category character varying,
    price integer NOT NULL""",
    [('name', '방송상품명'), ('broadcaster', '방송사'), ('category', '방송 상품 카테고리'), ('price', '상품가격')],
    False, items, ['id', 'name', 'broadcaster', 'category', 'price'], 100, 'true'))

# ---- users
family = ['김', '이', '박', '최', '정', '강', '조', '윤', '장', '임', '한', '오', '서', '신', '권']
given = ['민준', '서연', '도윤', '하은', '시우', '지우', '주원', '서윤', '예준', '수아', '지호', '지민', '현우', '채원', '준서', '다은']
users = []
for i in range(1, 51):
    if i == 10:
        users.append((10, '박규경', '4a49145e-45a8-4845-af45-1af2a59bb044'))
        continue
    users.append((i, rnd.choice(family) + rnd.choice(given), str(uuid.UUID(int=rnd.getrandbits(128), version=4))))

(root / 'user' / 'init_database.sql').write_text(table(
    'user', '"user"',
    """    id bigint NOT NULL,
    name character varying NOT NULL,
    access_token character varying NOT NULL""",
    [('name', '방송상품명'), ('access_token', '엑세스 토큰')],
    False, users, ['id', 'name', 'access_token'], 50, 'true'))

# ---- alarms: the kit ships none; neither do we (alarms are what users set)
(root / 'alarm' / 'init_database.sql').write_text(table(
    'alarm', 'alarm',
    """    id integer NOT NULL,
    item_id integer,
    user_id integer,
    created timestamp without time zone""",
    [('item_id', '알람설정한 아이템'), ('user_id', '알람설정한 유저')],
    True, [], ['id', 'item_id', 'user_id', 'created'], 1, 'false'))
