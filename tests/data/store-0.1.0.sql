-- A database written by tiesense 0.1.0 (commit d9696e8, before the store became a package),
-- kept as SQL text so migration tests can rebuild it: sqlite3.connect(path).executescript(text).
--
-- Made by running the script below against that commit's Store, estimates.recompute,
-- estimates.recompute_measures and estimates.LiveTies, then sqlite3's Connection.iterdump():
--   .venv/bin/python make_store_0_1_0.py > tests/data/store-0.1.0.sql   (this header prepended by hand)
-- Contents: both built-in forms published; 3 tp_visit records (kiosk-01) and 6 fi_partner
-- interviews (handheld-01, the REPORTS of tests/test_estimates.py); one conflict (visit 1's id with
-- satisfaction 1); two quarantine rows (an unreadable message received twice, times=2; a refused
-- record at item 0 of a message); two devices; tie_estimates (composite and decayed_rate),
-- org_measures (4 orgs x 7 measures) and cluster_measures (1 row). PRAGMA user_version is 0.
-- Instance ids are derived from SHA-256("fixture-N"); updated_at and decayed_rate values depend on
-- the day it was made.
--
-- | """Write a database with tiesense 0.1.0's store and estimates, dump it as SQL text."""
-- | import hashlib
-- | import sqlite3
-- | import sys
-- | import tempfile
-- | from pathlib import Path
-- | 
-- | from tiesense import wire
-- | from tiesense.estimates import LiveTies, recompute, recompute_measures
-- | from tiesense.forms import builtin_forms
-- | from tiesense.store import QuarantineItem, RecordItem, StatusItem, Store
-- | 
-- | 
-- | def iid(n):  # deterministic instance ids
-- |     return wire.new_instance_id(lambda k: hashlib.sha256(b"fixture-%d" % n).digest()[:k])
-- | 
-- | 
-- | def visit(n, seq, satisfaction):
-- |     return wire.make_record("kiosk-01", seq, "tp_visit", "2026112401", "2026-11-24T10:00:00Z",
-- |                             "2026-11-24T10:00:42Z",
-- |                             {"facility": "training", "org_type": "startup", "satisfaction": satisfaction}, iid(n))
-- | 
-- | 
-- | # (respondent, partner, tie types, frequency, since, closeness, reciprocity, end): tests/test_estimates.py REPORTS
-- | REPORTS = [
-- |     (11, 12, ["traded", "knowledge"], 5, 2015, 4, "mutual", "2026-10-01T10:00:00Z"),
-- |     (12, 11, ["traded"], 4, 2016, 3, "we", "2026-10-02T10:00:00Z"),
-- |     (11, 13, ["support"], 2, None, 2, None, "2026-10-03T10:00:00Z"),
-- |     (13, 14, ["collaborative", "people", "knowledge"], 6, 2020, 5, "mutual", "2026-10-04T10:00:00Z"),
-- |     (14, 12, ["finance"], 1, 2024, 1, "they", "2026-10-05T10:00:00Z"),
-- |     (11, 12, ["traded", "knowledge", "people"], 5, 2015, 5, "mutual", "2026-11-01T10:00:00Z"),
-- | ]
-- | 
-- | 
-- | def interview(i, rep):
-- |     r, p, types, freq, since, close, recip, end = rep
-- |     a = {"respondent_org": r, "partner_org": p, "tie_types": types, "frequency": freq, "closeness": close,
-- |          "scope": "same_park"}
-- |     if since is not None:
-- |         a["since_year"] = since
-- |     if recip is not None:
-- |         a["reciprocity"] = recip
-- |     return wire.make_record("handheld-01", i + 1, "fi_partner", "2026112401", end, end, a, iid(100 + i))
-- | 
-- | 
-- | def main(out):
-- |     with tempfile.TemporaryDirectory() as d:
-- |         path = Path(d) / "store.db"
-- |         s = Store(path)
-- |         for f in builtin_forms():
-- |             s.publish_form(f, published_at="2026-11-24T09:00:00.000Z")
-- |         visits = [visit(1, 1, 5), visit(2, 2, 4), visit(3, 3, 3)]
-- |         s.write_batch([RecordItem(r, "2026-11-24T10:01:00.000Z", wire.topic_records("kiosk-01")) for r in visits],
-- |                       statuses=[StatusItem("kiosk-01", {"v": 1, "online": True, "fw": "0.1.0", "role": "kiosk",
-- |                                                         "queue": 0, "heap_free": 81234, "battery_mv": 4012,
-- |                                                         "uptime_s": 3600, "time": "2026-11-24T10:00:59Z",
-- |                                                         "approaches": 7, "abandoned": 1},
-- |                                            "2026-11-24T10:01:00.000Z")])
-- |         s.write_batch([RecordItem(interview(i, rep), "2026-11-24T11:00:00.000Z", wire.topic_records("handheld-01"))
-- |                        for i, rep in enumerate(REPORTS)],
-- |                       statuses=[StatusItem("handheld-01", {"v": 1, "online": False}, "2026-11-24T11:00:00.000Z")])
-- |         # a duplicate (no row) and a conflict: the id of visit 1 with other answers
-- |         other = visit(1, 1, 1)
-- |         out_ = s.write_batch([RecordItem(visits[1], "2026-11-24T10:02:00.000Z"),
-- |                               RecordItem(other, "2026-11-24T10:02:00.000Z", wire.topic_records("kiosk-01"))])
-- |         assert [o.status for o in out_] == ["duplicate", "conflict"], out_
-- |         # quarantine: a whole unreadable message received twice, and one refused record inside a message
-- |         bad = b"\xff\x00 not a record"
-- |         for t in ("2026-11-24T10:03:00.000Z", "2026-11-24T10:04:00.000Z"):
-- |             s.write_batch(quarantine=[QuarantineItem(wire.topic_records("kiosk-01"), "not UTF-8", bad, t,
-- |                                                      "kiosk-01")])
-- |         msg = wire.encode_batch("kiosk-01", [visit(4, 4, 9)])
-- |         s.write_batch(quarantine=[QuarantineItem(wire.topic_records("kiosk-01"),
-- |                                                  "'satisfaction': 9 is out of range 1..5", msg,
-- |                                                  "2026-11-24T10:05:00.000Z", "kiosk-01", 0, iid(4), 4)])
-- |         s.close()
-- |         assert recompute(path, n_replicates=50, seed=0) == 4
-- |         assert recompute_measures(path, n_replicates=50, seed=0) == (4, 1)
-- |         LiveTies(path)
-- |         conn = sqlite3.connect(path)
-- |         out.write("\n".join(conn.iterdump()) + "\n")
-- |         conn.close()
-- | 
-- | 
-- | if __name__ == "__main__":
-- |     main(sys.stdout)
--
BEGIN TRANSACTION;
CREATE TABLE "cluster_measures" (
   "measure" TEXT PRIMARY KEY,
   "value" REAL,
   "low" REAL,
   "high" REAL,
   "updated_at" TEXT
);
INSERT INTO "cluster_measures" VALUES('degree_centralization',0.0,0.0,6.66666666666666629659e-01,'2026-11-30T14:08:49Z');
CREATE TABLE "conflicts" (
   "instance_id" TEXT,
   "digest" TEXT,
   "stored_digest" TEXT NOT NULL,
   "device" TEXT NOT NULL,
   "seq" INTEGER NOT NULL,
   "record" TEXT NOT NULL,
   "received_at" TEXT NOT NULL,
   PRIMARY KEY ("instance_id", "digest")
);
INSERT INTO "conflicts" VALUES('uuid:042896dc-1966-48a6-a14e-5383aba5b8b9','8f339388f01ae89c8c702c357df4d4f0710057a95a689df74dd12e3af20acc93','b38dafff5c40bc7ce993caa92914d900ff800b912f29d9f7902dca68056b00ab','kiosk-01',1,'{"answers":{"facility":"training","org_type":"startup","satisfaction":1},"device":"kiosk-01","end":"2026-11-24T10:00:42Z","form":"tp_visit","form_version":"2026112401","id":"uuid:042896dc-1966-48a6-a14e-5383aba5b8b9","seq":1,"start":"2026-11-24T10:00:00Z"}','2026-11-24T10:02:00.000Z');
CREATE TABLE "devices" (
   "device" TEXT PRIMARY KEY,
   "online" INTEGER,
   "fw" TEXT,
   "role" TEXT,
   "queue" INTEGER,
   "heap_free" INTEGER,
   "battery_mv" INTEGER,
   "uptime_s" INTEGER,
   "time" TEXT,
   "approaches" INTEGER,
   "abandoned" INTEGER,
   "last_seen" TEXT NOT NULL
);
INSERT INTO "devices" VALUES('kiosk-01',1,'0.1.0','kiosk',0,81234,4012,3600,'2026-11-24T10:00:59Z',7,1,'2026-11-24T10:01:00.000Z');
INSERT INTO "devices" VALUES('handheld-01',0,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,'2026-11-24T11:00:00.000Z');
CREATE TABLE "forms" (
   "form_id" TEXT,
   "version" TEXT,
   "spec" TEXT NOT NULL,
   "digest" TEXT NOT NULL,
   "published_at" TEXT NOT NULL,
   PRIMARY KEY ("form_id", "version")
);
INSERT INTO "forms" VALUES('fi_partner','2026112401','{"id":"fi_partner","languages":["en","ko"],"note":"One record per partner named by the respondent (the name generator''s loop, flattened). Organisations are roster codes. Constructs: domain.md §3.","questions":[{"label":{"en":"Roster code of the respondent''s organisation","ko":"응답 기관의 명부 코드"},"max":999999,"min":1,"name":"respondent_org","required":true,"type":"integer"},{"label":{"en":"Roster code of the partner","ko":"협력 상대의 명부 코드"},"max":999999,"min":1,"name":"partner_org","required":true,"type":"integer"},{"choices":[{"label":{"en":"Buying, supplying, licensing, contract R&D","ko":"구매·공급·라이선스·위탁연구"},"name":"traded"},{"label":{"en":"Joint R&D, consortium, joint marketing","ko":"공동 연구개발·컨소시엄·공동 마케팅"},"name":"collaborative"},{"label":{"en":"Technical advice, information, informal meetings","ko":"기술 자문·정보·비공식 만남"},"name":"knowledge"},{"label":{"en":"Hiring, personnel exchange, mentoring","ko":"채용·인력 교류·멘토링"},"name":"people"},{"label":{"en":"Services from a techno-park or agency","ko":"테크노파크·기관 지원 서비스"},"name":"support"},{"label":{"en":"Investment, loans, grants","ko":"투자·융자·보조금"},"name":"finance"}],"label":{"en":"What kinds of interaction do you have with this partner?","ko":"이 상대와 어떤 종류의 교류가 있습니까?"},"max_selected":6,"name":"tie_types","required":true,"type":"select_multiple"},{"end":6,"label":{"en":"How often are you in contact? (1 yearly, 2 a few times a year, 3 monthly, 4 weekly, 5 several times a week, 6 daily)","ko":"얼마나 자주 연락합니까? (1 연 1회 … 6 매일)"},"name":"frequency","required":true,"start":1,"step":1,"type":"range"},{"label":{"en":"Since which year?","ko":"몇 년부터입니까?"},"max":2100,"min":1950,"name":"since_year","required":false,"type":"integer"},{"end":5,"label":{"en":"How close or trusting is the relationship? (1 distant, 5 very close)","ko":"관계가 얼마나 가깝고 신뢰합니까? (1 먼 … 5 매우 가까움)"},"name":"closeness","required":true,"start":1,"step":1,"type":"range"},{"choices":[{"label":{"en":"Both sides","ko":"양쪽 모두"},"name":"mutual"},{"label":{"en":"Mostly us","ko":"주로 우리"},"name":"we"},{"label":{"en":"Mostly them","ko":"주로 상대"},"name":"they"}],"label":{"en":"Who benefits from the relationship?","ko":"누가 이 관계의 혜택을 받습니까?"},"name":"reciprocity","required":false,"type":"select_one"},{"choices":[{"label":{"en":"In this techno-park","ko":"같은 테크노파크"},"name":"same_park"},{"label":{"en":"Elsewhere in this region","ko":"같은 지역"},"name":"same_region"},{"label":{"en":"Another region of the country","ko":"국내 다른 지역"},"name":"other_region"},{"label":{"en":"Abroad","ko":"해외"},"name":"abroad"}],"label":{"en":"Where is the partner?","ko":"상대는 어디에 있습니까?"},"name":"scope","required":true,"type":"select_one"},{"end":5,"label":{"en":"How important is this partner for your innovation? (1 not, 5 crucial)","ko":"혁신에 얼마나 중요한 상대입니까? (1 전혀 … 5 매우)"},"name":"importance","required":false,"start":1,"step":1,"type":"range"}],"title":{"en":"Firm interaction: one partner","ko":"기업 상호작용: 협력 상대 1곳"},"version":"2026112401"}','f106493bcf1f278dc1b0a23198509a162353dbc9b085a6a97187f5cbd3619a6c','2026-11-24T09:00:00.000Z');
INSERT INTO "forms" VALUES('tp_visit','2026112401','{"id":"tp_visit","languages":["en","ko"],"questions":[{"choices":[{"label":{"en":"Shared equipment / test lab","ko":"공동 장비·시험실"},"name":"shared_lab"},{"label":{"en":"Incubation space","ko":"보육 공간"},"name":"incubation"},{"label":{"en":"Meeting room","ko":"회의실"},"name":"meeting_room"},{"label":{"en":"Training or seminar","ko":"교육·세미나"},"name":"training"},{"label":{"en":"Technology consulting","ko":"기술 컨설팅"},"name":"consulting"},{"label":{"en":"Business or marketing support","ko":"경영·마케팅 지원"},"name":"business_support"},{"label":{"en":"Matching or networking event","ko":"매칭·네트워킹 행사"},"name":"networking_event"},{"label":{"en":"Cafeteria or lobby","ko":"카페테리아·로비"},"name":"cafeteria"}],"label":{"en":"Which facility or service did you use today?","ko":"오늘 어떤 시설이나 서비스를 이용하셨습니까?"},"name":"facility","required":true,"type":"select_one"},{"choices":[{"label":{"en":"Large firm","ko":"대기업"},"name":"large_firm"},{"label":{"en":"SME","ko":"중소기업"},"name":"sme"},{"label":{"en":"Start-up or venture","ko":"스타트업·벤처"},"name":"startup"},{"label":{"en":"University","ko":"대학"},"name":"university"},{"label":{"en":"Research institute","ko":"연구기관"},"name":"research_institute"},{"label":{"en":"Government or agency","ko":"정부·공공기관"},"name":"government"},{"label":{"en":"Other","ko":"기타"},"name":"other"}],"label":{"en":"What kind of organisation are you from?","ko":"소속 기관의 유형은 무엇입니까?"},"name":"org_type","required":true,"type":"select_one"},{"end":5,"label":{"en":"How satisfied are you with it? (1 = not at all, 5 = very)","ko":"만족도는 어떻습니까? (1 = 전혀, 5 = 매우)"},"name":"satisfaction","required":true,"start":1,"step":1,"type":"range"}],"title":{"en":"Techno-park visit","ko":"테크노파크 방문"},"version":"2026112401"}','3deb1ec288be73510f8b2ad786b55e22a299387c40e749c3fb484345f22f6983','2026-11-24T09:00:00.000Z');
CREATE TABLE "org_measures" (
   "org" INTEGER,
   "measure" TEXT,
   "value" REAL,
   "low" REAL,
   "high" REAL,
   "updated_at" TEXT,
   PRIMARY KEY ("org", "measure")
);
INSERT INTO "org_measures" VALUES(11,'strength',8.3568452380952384928e-01,0.0,1.06089285714285708195e+00,'2026-11-30T14:08:49Z');
INSERT INTO "org_measures" VALUES(12,'strength',6.54541666666666688279e-01,0.001,0.87975,'2026-11-30T14:08:49Z');
INSERT INTO "org_measures" VALUES(13,'strength',1.09880952380952390257e+00,0.0,1.09880952380952390257e+00,'2026-11-30T14:08:49Z');
INSERT INTO "org_measures" VALUES(14,'strength',9.17666666666666741569e-01,0.0,9.17666666666666741569e-01,'2026-11-30T14:08:49Z');
INSERT INTO "org_measures" VALUES(11,'degree',2.0,0.0,2.0,'2026-11-30T14:08:49Z');
INSERT INTO "org_measures" VALUES(12,'degree',2.0,1.0,2.0,'2026-11-30T14:08:49Z');
INSERT INTO "org_measures" VALUES(13,'degree',2.0,0.0,2.0,'2026-11-30T14:08:49Z');
INSERT INTO "org_measures" VALUES(14,'degree',2.0,0.0,2.0,'2026-11-30T14:08:49Z');
INSERT INTO "org_measures" VALUES(11,'constraint',6.59097094425123763983e-01,6.59097094425123763983e-01,1.0,'2026-11-30T14:08:49Z');
INSERT INTO "org_measures" VALUES(12,'constraint',9.96949095025636111699e-01,9.95352465182670176346e-01,1.0,'2026-11-30T14:08:49Z');
INSERT INTO "org_measures" VALUES(13,'constraint',0.723427656530063,0.723427656530063,1.0,'2026-11-30T14:08:49Z');
INSERT INTO "org_measures" VALUES(14,'constraint',9.9782293437044322637e-01,9.9782293437044322637e-01,1.0,'2026-11-30T14:08:49Z');
INSERT INTO "org_measures" VALUES(11,'effective_size',2.0,1.0,2.0,'2026-11-30T14:08:49Z');
INSERT INTO "org_measures" VALUES(12,'effective_size',2.0,1.0,2.0,'2026-11-30T14:08:49Z');
INSERT INTO "org_measures" VALUES(13,'effective_size',2.0,1.0,2.0,'2026-11-30T14:08:49Z');
INSERT INTO "org_measures" VALUES(14,'effective_size',2.0,1.0,2.0,'2026-11-30T14:08:49Z');
INSERT INTO "org_measures" VALUES(11,'top_partner_share',7.82043520068378517073e-01,7.82043520068378517073e-01,1.0,'2026-11-30T14:08:49Z');
INSERT INTO "org_measures" VALUES(12,'top_partner_share',9.98472213380864448417e-01,9.97670807453416186305e-01,1.0,'2026-11-30T14:08:49Z');
INSERT INTO "org_measures" VALUES(13,'top_partner_share',8.34236186348862429618e-01,8.34236186348862429618e-01,1.0,'2026-11-30T14:08:49Z');
INSERT INTO "org_measures" VALUES(14,'top_partner_share',9.989102796948783336e-01,9.989102796948783336e-01,1.0,'2026-11-30T14:08:49Z');
INSERT INTO "org_measures" VALUES(11,'hhi',6.59097094425123763983e-01,6.59097094425123763983e-01,1.0,'2026-11-30T14:08:49Z');
INSERT INTO "org_measures" VALUES(12,'hhi',9.96949095025636111699e-01,9.95352465182670398391e-01,1.0,'2026-11-30T14:08:49Z');
INSERT INTO "org_measures" VALUES(13,'hhi',0.723427656530063,0.723427656530063,1.0,'2026-11-30T14:08:49Z');
INSERT INTO "org_measures" VALUES(14,'hhi',9.97822934370443448415e-01,9.97822934370443448415e-01,1.0,'2026-11-30T14:08:49Z');
INSERT INTO "org_measures" VALUES(11,'betweenness',6.66666666666666629659e-01,NULL,NULL,'2026-11-30T14:08:49Z');
INSERT INTO "org_measures" VALUES(12,'betweenness',0.0,NULL,NULL,'2026-11-30T14:08:49Z');
INSERT INTO "org_measures" VALUES(13,'betweenness',6.66666666666666629659e-01,NULL,NULL,'2026-11-30T14:08:49Z');
INSERT INTO "org_measures" VALUES(14,'betweenness',0.0,NULL,NULL,'2026-11-30T14:08:49Z');
CREATE TABLE "quarantine" (
   "id" INTEGER PRIMARY KEY,
   "received_at" TEXT NOT NULL,
   "topic" TEXT NOT NULL,
   "device" TEXT,
   "reason" TEXT NOT NULL,
   "raw" BLOB NOT NULL,
   "raw_digest" TEXT NOT NULL,
   "item" INTEGER NOT NULL DEFAULT -1,
   "instance_id" TEXT,
   "seq" INTEGER,
   "times" INTEGER NOT NULL DEFAULT 1,
   "last_received_at" TEXT
);
INSERT INTO "quarantine" VALUES(1,'2026-11-24T10:03:00.000Z','tiesense/v1/kiosk-01/records','kiosk-01','not UTF-8',X'FF00206E6F742061207265636F7264','a8386212b363aab99be4ca0a15c328351e82b51eea096ac6b3acbc642672a928',-1,NULL,NULL,2,'2026-11-24T10:04:00.000Z');
INSERT INTO "quarantine" VALUES(2,'2026-11-24T10:05:00.000Z','tiesense/v1/kiosk-01/records','kiosk-01','''satisfaction'': 9 is out of range 1..5',X'7B22646576696365223A226B696F736B2D3031222C227265636F726473223A5B7B22616E7377657273223A7B22666163696C697479223A22747261696E696E67222C226F72675F74797065223A2273746172747570222C22736174697366616374696F6E223A397D2C22646576696365223A226B696F736B2D3031222C22656E64223A22323032362D31312D32345431303A30303A34325A222C22666F726D223A2274705F7669736974222C22666F726D5F76657273696F6E223A2232303236313132343031222C226964223A22757569643A38633039623337312D323365622D346439642D386563362D333738383134396535373662222C22736571223A342C227374617274223A22323032362D31312D32345431303A30303A30305A227D5D2C2276223A317D','9d5d0bd1635b118b97f63fa6157dccc13e8111a0eb0ac63e1629977e5991caa7',0,'uuid:8c09b371-23eb-4d9d-8ec6-3788149e576b',4,1,'2026-11-24T10:05:00.000Z');
CREATE TABLE "records" (
   "instance_id" TEXT PRIMARY KEY,
   "device" TEXT NOT NULL,
   "seq" INTEGER NOT NULL,
   "form" TEXT NOT NULL,
   "form_version" TEXT NOT NULL,
   "start" TEXT NOT NULL,
   "end" TEXT NOT NULL,
   "answers" TEXT NOT NULL,
   "digest" TEXT NOT NULL,
   "received_at" TEXT NOT NULL
);
INSERT INTO "records" VALUES('uuid:042896dc-1966-48a6-a14e-5383aba5b8b9','kiosk-01',1,'tp_visit','2026112401','2026-11-24T10:00:00Z','2026-11-24T10:00:42Z','{"facility":"training","org_type":"startup","satisfaction":5}','b38dafff5c40bc7ce993caa92914d900ff800b912f29d9f7902dca68056b00ab','2026-11-24T10:01:00.000Z');
INSERT INTO "records" VALUES('uuid:dba0082e-c68e-42d4-bfa9-26dcc91fb9b0','kiosk-01',2,'tp_visit','2026112401','2026-11-24T10:00:00Z','2026-11-24T10:00:42Z','{"facility":"training","org_type":"startup","satisfaction":4}','b41a606105ed294021cb27d8bb46a01182da67d80943657268f42bd894f461b9','2026-11-24T10:01:00.000Z');
INSERT INTO "records" VALUES('uuid:dfd5922f-5aa9-441e-95d2-1ed58bb9f220','kiosk-01',3,'tp_visit','2026112401','2026-11-24T10:00:00Z','2026-11-24T10:00:42Z','{"facility":"training","org_type":"startup","satisfaction":3}','653eaa1c78380c1a71d0e96b6fbab265fff2f954177b22e2adba582e61c1cc7a','2026-11-24T10:01:00.000Z');
INSERT INTO "records" VALUES('uuid:5e9c5ecd-f5a9-42fb-8c3a-f07d4454ff20','handheld-01',1,'fi_partner','2026112401','2026-10-01T10:00:00Z','2026-10-01T10:00:00Z','{"closeness":4,"frequency":5,"partner_org":12,"reciprocity":"mutual","respondent_org":11,"scope":"same_park","since_year":2015,"tie_types":["traded","knowledge"]}','5152ab753b114ccb976f79ec506db10ecf85ea44763932ec34be52318ac5db78','2026-11-24T11:00:00.000Z');
INSERT INTO "records" VALUES('uuid:25b78e76-0a8c-43c7-ad44-eab454ea10bb','handheld-01',2,'fi_partner','2026112401','2026-10-02T10:00:00Z','2026-10-02T10:00:00Z','{"closeness":3,"frequency":4,"partner_org":11,"reciprocity":"we","respondent_org":12,"scope":"same_park","since_year":2016,"tie_types":["traded"]}','6c525f1fd539c63b0431f4646813a613be978795ab5245cacac5e7fbcbdf8c68','2026-11-24T11:00:00.000Z');
INSERT INTO "records" VALUES('uuid:1d184cf7-261a-42d6-bc9e-e622e07aa628','handheld-01',3,'fi_partner','2026112401','2026-10-03T10:00:00Z','2026-10-03T10:00:00Z','{"closeness":2,"frequency":2,"partner_org":13,"respondent_org":11,"scope":"same_park","tie_types":["support"]}','579addfd1cec8945974b307aebea45f2b24945973f2c0815bcc2ebe40b3bb279','2026-11-24T11:00:00.000Z');
INSERT INTO "records" VALUES('uuid:e815d9e4-2a5f-4a47-b63f-67410eb6e8d8','handheld-01',4,'fi_partner','2026112401','2026-10-04T10:00:00Z','2026-10-04T10:00:00Z','{"closeness":5,"frequency":6,"partner_org":14,"reciprocity":"mutual","respondent_org":13,"scope":"same_park","since_year":2020,"tie_types":["collaborative","people","knowledge"]}','8953ce988e15b5a8c2cd3eb4e184a5021d046ea150413934b57dede281813ca2','2026-11-24T11:00:00.000Z');
INSERT INTO "records" VALUES('uuid:ade35c99-751d-4485-930a-02c6f2abd913','handheld-01',5,'fi_partner','2026112401','2026-10-05T10:00:00Z','2026-10-05T10:00:00Z','{"closeness":1,"frequency":1,"partner_org":12,"reciprocity":"they","respondent_org":14,"scope":"same_park","since_year":2024,"tie_types":["finance"]}','119b453f9e1a69f3d6f367f564bdab3110d3ed7d579b99c8c761b866d2263bc2','2026-11-24T11:00:00.000Z');
INSERT INTO "records" VALUES('uuid:ef2ac1a8-cb32-4ba1-b3b1-38743a96f07b','handheld-01',6,'fi_partner','2026112401','2026-11-01T10:00:00Z','2026-11-01T10:00:00Z','{"closeness":5,"frequency":5,"partner_org":12,"reciprocity":"mutual","respondent_org":11,"scope":"same_park","since_year":2015,"tie_types":["traded","knowledge","people"]}','41fa22bc4b9ff2d1cd722c7dc723d5e12bacadcc5d317b4689b978091df065d6','2026-11-24T11:00:00.000Z');
CREATE TABLE "tie_estimates" (
   "u" INTEGER,
   "v" INTEGER,
   "estimator" TEXT,
   "value" REAL,
   "low" REAL,
   "high" REAL,
   "observations" INTEGER,
   "confirmed" INTEGER,
   "disagreement" REAL,
   "updated_at" TEXT,
   PRIMARY KEY ("u", "v", "estimator")
);
INSERT INTO "tie_estimates" VALUES(11,12,'composite',6.5354166666666668739e-01,0.0,0.87875,3,1,4.50416666666666742901e-01,'2026-11-30T14:08:49Z');
INSERT INTO "tie_estimates" VALUES(11,13,'composite',1.82142857142857134133e-01,0.0,1.82142857142857134133e-01,1,0,NULL,'2026-11-30T14:08:49Z');
INSERT INTO "tie_estimates" VALUES(12,14,'composite',0.0,0.0,0.0,1,0,NULL,'2026-11-30T14:08:49Z');
INSERT INTO "tie_estimates" VALUES(13,14,'composite',9.16666666666666740681e-01,0.0,9.16666666666666740681e-01,1,0,NULL,'2026-11-30T14:08:49Z');
INSERT INTO "tie_estimates" VALUES(11,12,'decayed_rate',5.55417272405901302212e-02,1.13837188089810897179e-02,1.3401439614899696151e-01,3,NULL,NULL,'2026-11-30T14:08:49Z');
INSERT INTO "tie_estimates" VALUES(11,13,'decayed_rate',2.41911140002473781795e-02,1.26204913317188357341e-03,7.99185790712641647148e-02,1,NULL,NULL,'2026-11-30T14:08:49Z');
INSERT INTO "tie_estimates" VALUES(12,14,'decayed_rate',2.43061711668447893996e-02,1.28255974190055852153e-03,8.01418571746988356307e-02,1,NULL,NULL,'2026-11-30T14:08:49Z');
INSERT INTO "tie_estimates" VALUES(13,14,'decayed_rate',2.42485318176404208989e-02,1.27226431045362325944e-03,8.00300412121692783529e-02,1,NULL,NULL,'2026-11-30T14:08:49Z');
CREATE INDEX "idx_records_device_seq"
    ON "records" ("device", "seq");
CREATE UNIQUE INDEX "idx_quarantine_topic_raw_digest_item"
    ON "quarantine" ("topic", "raw_digest", "item");
COMMIT;
