"""The dashboards' interface text in English and Korean: one catalogue, one language per request.

The language is the ``lang`` query parameter, else the ``tiesense_lang``
cookie (set by ``GET /lang/{code}``, the switch in every page's header), else
the browser's ``Accept-Language`` (Korean first when it prefers ``ko``), else
English. Choice labels of the instruments (facilities...) come from the forms
themselves, which carry both languages; this catalogue holds only the pages' own text.

Examples
--------
>>> t = translator("ko")
>>> t("nav.overview"), translator("en")("k.note", k=5, n=2)
('단지 개요', 'Cells from fewer than 5 respondents are hidden (2 hidden).')
"""
from __future__ import annotations

from typing import Callable

__all__ = ["LANGS", "MESSAGES", "COOKIE", "lang_of", "translator"]

LANGS = ("en", "ko")
COOKIE = "tiesense_lang"

MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "app.title": "tiesense",
        "nav.overview": "Park overview",
        "nav.network": "Network",
        "nav.fleet": "Fleet",
        "nav.data": "Data",
        "nav.logout": "Log out",
        "nav.role": "{name} ({role})",
        "live.records": "Records stored: {n}",
        "live.new": "New record",
        "live.latest": "Latest records",
        "k.note": "Cells from fewer than {k} respondents are hidden ({n} hidden).",
        "k.none": "Every cell is shown (analyst view).",
        "forbidden.title": "Not for this role",
        "forbidden.text": "This page shows organisation-level rows and needs the {role} role; you are a {mine}. "
                          "Viewers see the park overview (k-anonymous aggregates).",
        "empty": "No data yet.",
        "ov.title": "Park overview",
        "ov.heatmap": "Visits per facility and hour",
        "ov.hour": "Hour of day (UTC)",
        "ov.facility": "Facility",
        "ov.visits": "Visits",
        "ov.kiosks": "Footfall and response rate per kiosk",
        "ov.kiosks.note": "Footfall is the presence sensor's count of approaches, summed from each kiosk's "
                          "presence records over the period shown (the running total of its last status for a "
                          "kiosk that sends none); the response rate is completed surveys per approach.",
        "ov.footfall": "Footfall per hour (all kiosks)",
        "ov.footfall.note": "Approaches the kiosks' presence sensors counted in each hour, and the surveys "
                            "completed then; the response rate is completed surveys per approach.",
        "ov.footfall.viewer": "Approaches the kiosks' presence sensors counted in each hour (responses per hour "
                              "are shown to analysts).",
        "ov.completed": "Completed surveys",
        "ov.time": "Hour (UTC)",
        "ov.kiosks.viewer": "Visits per kiosk (approach counts are shown to analysts).",
        "ov.approaches": "Approaches",
        "ov.abandoned": "Abandoned",
        "ov.records": "Records",
        "ov.rate": "Response rate",
        "ov.satisfaction": "Satisfaction by facility (mean, 1 to 5)",
        "ov.mean": "Mean satisfaction",
        "ov.weekly": "Visits and satisfaction by week",
        "ov.week": "Week",
        "ov.site": "Site",
        "ov.since": "From",
        "ov.until": "Before",
        "ov.wave": "Survey wave",
        "ov.wave.note": "Visits of survey wave {wave} only; footfall and kiosks over the hours that wave's visits span.",
        "ov.waves": "Visits, satisfaction and new contacts by survey wave",
        "ov.waves.none": "no wave",
        "ov.waves.period": "Period (UTC)",
        "ov.waves.note": "Each survey wave against the others, over the other filters (the wave filter marks its "
                         "wave here rather than hiding the rest); new contacts are of the visits asked.",
        "ov.waves.rate": "Approaches and response rate are the presence records' over the hours a wave's visits "
                         "span, given only when no two waves' periods overlap.",
        "ov.contacts": "New contacts made at a visit, by facility",
        "ov.contacts.made": "New contacts",
        "ov.contacts.total": "{made} visits led to a new contact, of {asked} asked ({share}).",
        "ov.contacts.none": "No visit was asked yet (the question is in the visit form from version 2026113001).",
        "ov.contacts.note": "Visits answering yes to \"Did this visit lead to a new contact?\"; totals are over "
                            "the facilities shown.",
        "net.title": "Network of organisations",
        "net.estimator": "Estimator",
        "net.threshold": "Threshold (at least)",
        "net.backbone": "Backbone only (disparity filter, alpha)",
        "net.actor_type": "Actor type",
        "net.region": "Region",
        "net.any": "any",
        "net.apply": "Apply",
        "net.nodes": "{n} organisations, {m} ties shown",
        "net.none": "No tie estimates yet: run tiesense ties recompute (composite) or let the host ingest "
                    "interviews (decayed_rate).",
        "net.nonrespondent": "hollow: did not respond",
        "net.hover.shown": "strength in this view",
        "net.hover.composite": "composite strength [bootstrap interval]",
        "net.hover.silent": "did not respond",
        "net.filters.note": "Tie type and location scope keep the ties that at least one interview report "
                            "names with that type or scope; the strength shown is the estimate over all of the "
                            "pair's reports.",
        "net.tie_type": "Tie type",
        "net.wave": "Survey wave",
        "net.wave.note": "The wave keeps the ties reported in interviews of that wave.",
        "net.scope": "Partner location",
        "net.viewer": "The network shows single organisations, so it is for analysts. Cluster measures:",
        "card.definition": "Definition and source",
        "card.brokers": "Brokers (Gould-Fernandez roles)",
        "card.brokers.def": "For each organisation v, the two-paths a - v - b whose ends are not tied, by the "
                            "actor types of a, v and b: coordinator (all one type), itinerant (a and b one type, "
                            "v another), gatekeeper and representative (v shares its type with one end), liaison "
                            "(three types). Techno-parks and agencies are expected to be liaisons.",
        "card.brokers.cite": "Gould, R. V. & Fernandez, R. M. (1989). Structures of mediation: a formal approach "
                             "to brokerage in transaction networks. Sociological Methodology 19, 89-126.",
        "card.constraint": "Constraint (structural holes)",
        "card.constraint.def": "Burt's constraint c_i = sum over partners j of (p_ij + sum_q p_iq p_qj)^2, with "
                               "p_ij the share of i's tie strength going to j. High: i's partners are tied to each "
                               "other (a closed network); low: i spans structural holes.",
        "card.constraint.cite": "Burt, R. S. (1992). Structural Holes: The Social Structure of Competition. "
                                "Harvard University Press.",
        "card.ei": "E-I index (local vs global)",
        "card.ei.def": "(E - I) / (E + I) over tie strength: E between organisations of different groups, I within "
                       "one. +1: every tie crosses groups (pipelines); -1: every tie stays inside (possible "
                       "lock-in).",
        "card.ei.cite": "Krackhardt, D. & Stern, R. N. (1988). Informal networks and organizational crises: an "
                        "experimental simulation. Social Psychology Quarterly 51(2), 123-140.",
        "card.ei.region": "by region",
        "card.ei.type": "by actor type",
        "card.hub": "Hub dependence",
        "card.hub.def": "Per organisation, the share of its tie strength going to its largest partner and the "
                        "Herfindahl index over its partners; for the cluster, Freeman degree centralisation "
                        "(1 for a star such as Gumi's suppliers around one assembler).",
        "card.hub.cite": "Freeman, L. C. (1979). Centrality in social networks: conceptual clarification. Social "
                         "Networks 1, 215-239; the Gumi case: Lee (2008), seeds/000 L113.",
        "card.hub.dependent": "{n} organisations put 80 % or more of their tie strength on one partner",
        "card.centralization": "Degree centralisation: {v}",
        "card.helix": "Triple-helix coverage",
        "card.helix.counts": "{covered} of {firms} firms are tied to both academia and government ({academia} to "
                             "academia, {government} to government).",
        "card.helix.def": "The share of firms (large, SME, start-up, foreign) with at least one tie to a university "
                          "or research institute and at least one to a government body, agency or techno-park.",
        "card.helix.cite": "Etzkowitz, H. & Leydesdorff, L. (2000). The dynamics of innovation: from National "
                           "Systems and \"Mode 2\" to a Triple Helix of university-industry-government relations. "
                           "Research Policy 29(2), 109-123.",
        "card.missing": "Missing links between actor types",
        "card.missing.count": "{n} of {m} pairs of actor types have no tie at all",
        "card.missing.def": "Pairs of actor types (both present) between which no tie is shown: where a cluster "
                            "initiative could broker introductions.",
        "card.missing.cite": "Cluster Policies Whitebook (2004), on the links a cluster lacks (seeds/004 L4886).",
        "actor.large_firm": "Large firm",
        "actor.sme": "SME",
        "actor.startup": "Start-up",
        "actor.foreign_firm": "Foreign firm",
        "actor.university": "University",
        "actor.gri": "Government research institute",
        "actor.research_centre": "Research centre",
        "actor.national_agency": "National agency",
        "actor.regional_agency": "Regional agency",
        "actor.technopark": "Techno-park",
        "actor.innovation_council": "Innovation council",
        "actor.association": "Association",
        "actor.finance": "Finance",
        "actor.services": "Professional services",
        "card.top": "Top",
        "card.low": "Least constrained",
        "card.high": "Most constrained",
        "fl.title": "Fleet",
        "fl.device": "Device",
        "fl.site": "Site",
        "fl.online": "Online",
        "fl.battery": "Battery (mV)",
        "fl.queue": "Queue",
        "fl.flash": "Free flash (bytes)",
        "fl.storage_full": "Storage full",
        "fl.clock": "Clock",
        "fl.refused": "Refused",
        "fl.errors": "Errors",
        "fl.fw": "Firmware",
        "fl.last_seen": "Last seen",
        "fl.records": "Records",
        "fl.alerts": "Alerts",
        "fl.no_alerts": "No alerts.",
        "fl.feed": "Alerts as JSON",
        "fl.yes": "yes",
        "fl.no": "no",
        "clock.0": "unsynced",
        "clock.1": "NTP",
        "clock.2": "host",
        "data.title": "Data",
        "data.records": "Records",
        "data.quarantine": "Quarantine",
        "data.conflicts": "Conflicts",
        "data.download": "Download",
        "data.aggregates": "Aggregates (k-anonymous)",
        "data.admin_only": "Quarantine and conflicts are for admins.",
        "data.more": "{shown} of {total} shown",
    },
    "ko": {
        "app.title": "tiesense",
        "nav.overview": "단지 개요",
        "nav.network": "네트워크",
        "nav.fleet": "기기 현황",
        "nav.data": "데이터",
        "nav.logout": "로그아웃",
        "nav.role": "{name} ({role})",
        "live.records": "저장된 기록: {n}건",
        "live.new": "새 기록",
        "live.latest": "최근 기록",
        "k.note": "응답자가 {k}명 미만인 칸은 가려집니다 ({n}칸 가려짐).",
        "k.none": "모든 칸을 표시합니다 (분석가 보기).",
        "forbidden.title": "이 역할로는 볼 수 없습니다",
        "forbidden.text": "이 페이지는 기관 단위 자료를 보여 주므로 {role} 역할이 필요합니다. 현재 역할: {mine}. "
                          "열람자는 단지 개요(k-익명 집계)를 볼 수 있습니다.",
        "empty": "아직 자료가 없습니다.",
        "ov.title": "단지 개요",
        "ov.heatmap": "시설별·시간대별 방문",
        "ov.hour": "시각 (UTC)",
        "ov.facility": "시설",
        "ov.visits": "방문 수",
        "ov.kiosks": "키오스크별 유동 인구와 응답률",
        "ov.kiosks.note": "유동 인구는 재실 센서가 감지한 접근 수로, 표시한 기간 동안 각 키오스크의 재실 기록을 "
                          "합한 값입니다(재실 기록을 보내지 않는 키오스크는 마지막 상태의 누계). 응답률은 접근 "
                          "한 번당 완료된 설문의 비율입니다.",
        "ov.footfall": "시간대별 유동 인구 (전체 키오스크)",
        "ov.footfall.note": "시간마다 키오스크 재실 센서가 감지한 접근 수와 그 시간에 완료된 설문 수입니다. 응답률은 "
                            "접근 한 번당 완료된 설문의 비율입니다.",
        "ov.footfall.viewer": "시간마다 키오스크 재실 센서가 감지한 접근 수입니다 (시간대별 응답 수는 분석가에게 "
                              "표시됩니다).",
        "ov.completed": "완료된 설문",
        "ov.time": "시각 (UTC)",
        "ov.kiosks.viewer": "키오스크별 방문 수 (접근 감지 수는 분석가에게 표시됩니다).",
        "ov.approaches": "접근",
        "ov.abandoned": "중도 포기",
        "ov.records": "기록",
        "ov.rate": "응답률",
        "ov.satisfaction": "시설별 만족도 (평균, 1~5)",
        "ov.mean": "평균 만족도",
        "ov.weekly": "주별 방문과 만족도",
        "ov.week": "주",
        "ov.site": "설치 장소",
        "ov.since": "시작일",
        "ov.until": "종료일(미포함)",
        "ov.wave": "조사 차수",
        "ov.wave.note": "조사 차수 {wave}의 방문만 표시합니다. 유동 인구와 키오스크는 그 차수 방문이 이어진 시간대의 값입니다.",
        "ov.waves": "조사 차수별 방문, 만족도, 새로운 관계",
        "ov.waves.none": "차수 없음",
        "ov.waves.period": "기간 (UTC)",
        "ov.waves.note": "다른 필터를 적용한 상태에서 조사 차수끼리 비교합니다 (차수 필터는 여기서 나머지를 숨기지 않고 "
                         "선택한 차수를 강조합니다). 새로운 관계는 질문받은 방문 중의 수입니다.",
        "ov.waves.rate": "접근 수와 응답률은 각 차수의 방문이 이어진 시간대의 재실 기록 값이며, 두 차수의 기간이 "
                         "겹치지 않을 때만 표시합니다.",
        "ov.contacts": "시설별 방문 중 새로 맺은 관계",
        "ov.contacts.made": "새로운 관계",
        "ov.contacts.total": "질문받은 방문 {asked}건 중 {made}건이 새로운 관계로 이어졌습니다 ({share}).",
        "ov.contacts.none": "아직 이 질문을 받은 방문이 없습니다 (방문 설문 2026113001 버전부터 있는 문항).",
        "ov.contacts.note": "\"이번 방문으로 새로운 인맥이 생겼습니까?\"에 예라고 답한 방문 수이며, 합계는 표시된 "
                            "시설에 대한 것입니다.",
        "net.title": "기관 네트워크",
        "net.estimator": "추정 방법",
        "net.threshold": "최소 강도",
        "net.backbone": "백본만 (disparity filter, 유의수준)",
        "net.actor_type": "주체 유형",
        "net.region": "지역",
        "net.any": "전체",
        "net.apply": "적용",
        "net.nodes": "기관 {n}곳, 관계 {m}개 표시",
        "net.none": "아직 관계 강도 추정치가 없습니다: tiesense ties recompute(composite)를 실행하거나 호스트가 "
                    "면접 기록을 받게 하십시오(decayed_rate).",
        "net.nonrespondent": "속이 빈 점: 무응답 기관",
        "net.hover.shown": "이 화면의 관계 강도",
        "net.hover.composite": "종합 관계 강도 [부트스트랩 구간]",
        "net.hover.silent": "무응답",
        "net.filters.note": "관계 유형·위치 범위 필터는 그 유형이나 범위로 응답된 보고가 하나 이상 있는 관계만 "
                            "남깁니다. 표시되는 강도는 두 기관에 대한 모든 보고로 추정한 값입니다.",
        "net.tie_type": "관계 유형",
        "net.wave": "조사 차수",
        "net.wave.note": "조사 차수 필터는 그 차수의 면접에서 보고된 관계만 남깁니다.",
        "net.scope": "상대 기관 위치",
        "net.viewer": "네트워크는 개별 기관을 보여 주므로 분석가용입니다. 클러스터 지표:",
        "card.definition": "정의와 출처",
        "card.brokers": "중개자 (Gould-Fernandez 역할)",
        "card.brokers.def": "각 기관 v에 대해 양 끝이 서로 연결되지 않은 경로 a - v - b를 a, v, b의 주체 유형으로 "
                            "분류합니다: 조정자(모두 같은 유형), 순회 중개자(a와 b가 같은 유형, v는 다른 유형), "
                            "문지기와 대표자(v가 한쪽 끝과 같은 유형), 연결자(세 유형 모두 다름). 테크노파크와 "
                            "지원기관은 연결자 역할이 기대됩니다.",
        "card.brokers.cite": "Gould, R. V. & Fernandez, R. M. (1989). Structures of mediation: a formal approach "
                             "to brokerage in transaction networks. Sociological Methodology 19, 89-126.",
        "card.constraint": "제약도 (구조적 공백)",
        "card.constraint.def": "Burt의 제약도 c_i = Σ_j (p_ij + Σ_q p_iq p_qj)^2, p_ij는 i의 관계 강도 중 j에 가는 "
                               "비율. 높으면 i의 협력처끼리 서로 연결된 닫힌 네트워크, 낮으면 i가 구조적 공백을 "
                               "잇습니다.",
        "card.constraint.cite": "Burt, R. S. (1992). Structural Holes: The Social Structure of Competition. "
                                "Harvard University Press.",
        "card.ei": "E-I 지수 (지역 내 대 외부)",
        "card.ei.def": "관계 강도 기준 (E - I) / (E + I): E는 서로 다른 집단 사이, I는 같은 집단 안. +1이면 모든 "
                       "관계가 집단 밖으로(파이프라인), -1이면 모두 안에 머무름(고착 가능성).",
        "card.ei.cite": "Krackhardt, D. & Stern, R. N. (1988). Informal networks and organizational crises: an "
                        "experimental simulation. Social Psychology Quarterly 51(2), 123-140.",
        "card.ei.region": "지역 기준",
        "card.ei.type": "주체 유형 기준",
        "card.hub": "허브 의존도",
        "card.hub.def": "기관별로 관계 강도 중 가장 큰 협력처가 차지하는 비율과 협력처에 대한 허핀달 지수, 클러스터 "
                        "전체로는 Freeman 연결 중앙집중도(구미의 협력업체처럼 한 조립업체 중심의 별 모양이면 1).",
        "card.hub.cite": "Freeman, L. C. (1979). Centrality in social networks: conceptual clarification. Social "
                         "Networks 1, 215-239; 구미 사례: Lee (2008), seeds/000 L113.",
        "card.hub.dependent": "관계 강도의 80 % 이상을 한 협력처에 두는 기관: {n}곳",
        "card.centralization": "연결 중앙집중도: {v}",
        "card.helix": "삼중나선 연계율",
        "card.helix.counts": "기업 {firms}곳 중 {covered}곳이 학계와 정부 모두와 연결되어 있습니다 (학계 {academia}곳, "
                             "정부 {government}곳).",
        "card.helix.def": "대학·연구기관과 관계가 하나 이상 있고 정부·지원기관·테크노파크와도 관계가 하나 이상 있는 "
                          "기업(대기업·중소기업·창업기업·외국기업)의 비율입니다.",
        "card.helix.cite": "Etzkowitz, H. & Leydesdorff, L. (2000). The dynamics of innovation: from National "
                           "Systems and \"Mode 2\" to a Triple Helix of university-industry-government relations. "
                           "Research Policy 29(2), 109-123.",
        "card.missing": "주체 유형 간 빠진 연결",
        "card.missing.count": "주체 유형 쌍 {m}개 중 {n}개 사이에는 관계가 전혀 없습니다",
        "card.missing.def": "둘 다 존재하지만 서로 간에 표시된 관계가 없는 주체 유형 쌍입니다. 클러스터 사업이 소개와 "
                            "연결을 주선할 수 있는 곳입니다.",
        "card.missing.cite": "Cluster Policies Whitebook (2004), 클러스터에 없는 연결에 대하여 (seeds/004 L4886).",
        "actor.large_firm": "대기업",
        "actor.sme": "중소기업",
        "actor.startup": "창업기업",
        "actor.foreign_firm": "외국기업",
        "actor.university": "대학",
        "actor.gri": "정부출연연구기관",
        "actor.research_centre": "연구센터",
        "actor.national_agency": "중앙정부 기관",
        "actor.regional_agency": "지역 기관",
        "actor.technopark": "테크노파크",
        "actor.innovation_council": "혁신협의회",
        "actor.association": "협회·단체",
        "actor.finance": "금융기관",
        "actor.services": "전문 서비스",
        "card.top": "상위",
        "card.low": "제약도 낮음",
        "card.high": "제약도 높음",
        "fl.title": "기기 현황",
        "fl.device": "기기",
        "fl.site": "설치 장소",
        "fl.online": "연결",
        "fl.battery": "배터리 (mV)",
        "fl.queue": "대기열",
        "fl.flash": "남은 플래시 (바이트)",
        "fl.storage_full": "저장 공간 가득 참",
        "fl.clock": "시계",
        "fl.refused": "거부",
        "fl.errors": "오류",
        "fl.fw": "펌웨어",
        "fl.last_seen": "마지막 수신",
        "fl.records": "기록",
        "fl.alerts": "경보",
        "fl.no_alerts": "경보 없음.",
        "fl.feed": "경보 JSON",
        "fl.yes": "예",
        "fl.no": "아니오",
        "clock.0": "미동기화",
        "clock.1": "NTP",
        "clock.2": "호스트",
        "data.title": "데이터",
        "data.records": "기록",
        "data.quarantine": "격리",
        "data.conflicts": "충돌",
        "data.download": "내려받기",
        "data.aggregates": "집계 (k-익명)",
        "data.admin_only": "격리와 충돌은 관리자만 볼 수 있습니다.",
        "data.more": "전체 {total}건 중 {shown}건 표시",
    },
}


def lang_of(request) -> str:
    """The language of this request: ``?lang=``, the cookie, ``Accept-Language``, or English."""
    asked = request.query_params.get("lang") or request.cookies.get(COOKIE)
    if asked in LANGS:
        return asked
    accept = request.headers.get("accept-language", "").lower()
    first = accept.split(",")[0].strip() if accept else ""
    return "ko" if first.startswith("ko") else "en"


def translator(lang: str) -> Callable[..., str]:
    """``t(key, **values)``: the text of ``key`` in ``lang`` (English when missing), formatted with ``values``."""
    table, fallback = MESSAGES.get(lang, MESSAGES["en"]), MESSAGES["en"]

    def t(key: str, **values) -> str:
        text = table.get(key) or fallback.get(key) or key
        return text.format(**values) if values else text

    return t
