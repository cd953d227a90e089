"""End to end: build the curated facts and answer the founding article's questions."""

from __future__ import annotations

from pathlib import Path

from rivalry.graph.store import EmbeddedStore

PREFIXES = """PREFIX rv: <https://w3id.org/rivalry/ontology#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX prov: <http://www.w3.org/ns/prov#>
PREFIX dct: <http://purl.org/dc/terms/>
PREFIX schema: <https://schema.org/>
PREFIX sem: <http://semanticweb.cs.vu.nl/2009/11/sem/>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
PREFIX org: <http://www.w3.org/ns/org#>
"""


def answers(store_dir: Path, query: str) -> list[dict[str, str]]:
    result = EmbeddedStore(store_dir).query(PREFIXES + query)
    return [{v: (t.value if t is not None else None) for v, t in zip(result.variables, row,
                                                                    strict=True)}
            for row in result.rows()]


def test_who_sanctioned_integrity_tech_when_and_on_what_basis(store_dir: Path) -> None:
    rows = answers(store_dir, """
        SELECT ?agency ?department ?state ?date ?basis ?program WHERE {
          ?m a rv:Sanction ; rv:targets ?company ; rv:issuedBy ?a ; rv:announcedOn ?date ;
             rv:legalBasis/schema:legislationIdentifier ?basis ;
             rv:underProgram/skos:altLabel ?program ; rv:issuingState/rdfs:label ?state .
          ?company rdfs:label "Integrity Technology Group, Incorporated"@en .
          ?a rdfs:label ?agency ; org:subOrganizationOf/rdfs:label ?department .
          FILTER(lang(?state) = "en")
        }""")
    assert rows == [{"agency": "Office of Foreign Assets Control",
                     "department": "U.S. Department of the Treasury",
                     "state": "United States", "date": "2025-01-03", "basis": "E.O. 13694",
                     "program": "SDN List"}]


def test_who_protested_on_behalf_of_which_ministry(store_dir: Path) -> None:
    rows = answers(store_dir, """
        SELECT ?speaker ?ministry ?date ?quote WHERE {
          ?s a rv:DiplomaticProtest ; rv:about ?m ; rv:spokenBy/rdfs:label ?speaker ;
             rv:onBehalfOf/rdfs:label ?ministry ; rv:announcedOn ?date ; rv:quote ?quote .
          ?m rv:targets/rdfs:label "Integrity Technology Group, Incorporated"@en .
          FILTER(lang(?speaker) = "en" && lang(?ministry) = "en" && lang(?quote) = "en")
        }""")
    assert {r["speaker"] for r in rows} == {"Guo Jiakun"}
    assert {r["ministry"] for r in rows} == {
        "Ministry of Foreign Affairs of the People's Republic of China"}
    assert {r["date"] for r in rows} == {"2025-01-06"}
    quotes = {r["quote"] for r in rows}
    assert "illegal unilateral sanctions" in quotes
    assert "defame and smear China" in quotes


def test_the_company_denied_and_responded_explicitly(store_dir: Path) -> None:
    rows = answers(store_dir, """
        SELECT ?d ?basis ?who WHERE {
          VALUES ?c { <https://w3id.org/rivalry/id/company/integrity-technology-group> }
          ?d a rv:Denial ; rv:onBehalfOf ?c ; rv:respondsTo ?m ;
             rv:qualifiedResponse [ rv:responseTo ?m ; rv:responseBasis ?basis ;
                                    sem:accordingTo ?who ] .
          ?m rv:targets ?c .
        }""")
    assert len(rows) == 1
    assert rows[0]["basis"].endswith("#ExplicitlyStated")
    assert rows[0]["who"].endswith("/company/integrity-technology-group")


def test_mofcom_proposal_technologies_and_comment_deadline(store_dir: Path) -> None:
    rows = answers(store_dir, """
        SELECT ?tech ?deadline ?status WHERE {
          ?m rv:issuedBy/skos:altLabel "MOFCOM"@en ; rv:commentDeadline ?deadline ;
             rv:status ?status ; rv:controlsTechnology/skos:prefLabel ?tech .
          FILTER(lang(?tech) = "en")
        }""")
    assert {r["deadline"] for r in rows} == {"2025-02-01"}
    # proposed in January, adopted in the revised catalogue of 15 July 2025: the proposal is
    # adopted, and the revision (its own measure) is what is in force
    assert {r["status"] for r in rows} == {"https://w3id.org/rivalry/ontology#Adopted"}
    history = answers(store_dir, """
        SELECT ?date ?status WHERE {
          <https://w3id.org/rivalry/id/action/cn-mofcom-2025-01-02-catalogue-proposal>
              rv:hasStatusChange [ rv:statusDate ?date ; rv:newStatus ?status ] }
        ORDER BY ?date""")
    assert [(h["date"], h["status"].rsplit("#", 1)[1]) for h in history] == [
        ("2025-01-02", "Proposed"), ("2025-07-15", "Adopted")]
    techs = {r["tech"] for r in rows}
    assert "lithium iron phosphate (LFP) cathode preparation technology" in techs
    assert "lithium extraction and refining technology" in techs
    assert "gallium extraction technology" in techs


def test_both_claims_about_the_proposal_and_who_asserts_each(store_dir: Path) -> None:
    rows = answers(store_dir, """
        SELECT ?basis ?who WHERE {
          ?m rv:qualifiedResponse [ rv:responseBasis ?basis ; sem:accordingTo/rdfs:label ?who ] ;
             rv:issuedBy/skos:altLabel "MOFCOM"@en .
          FILTER(lang(?who) = "en")
        }""")
    claims = {(r["basis"].rsplit("#", 1)[1], r["who"]) for r in rows}
    assert ("ReportedByMedia", "ESS News") in claims
    assert ("OfficiallyDenied", "Ministry of Commerce of the People's Republic of China") in claims
    denial = answers(store_dir, """
        SELECT ?speaker WHERE {
          ?s rv:stance rv:DeniesTargeting ; rv:spokenBy/rdfs:label ?speaker ;
             rv:about <https://w3id.org/rivalry/id/action/cn-mofcom-2025-01-02-catalogue-proposal> .
          FILTER(lang(?speaker) = "en") }""")
    assert denial == [{"speaker": "He Yadong"}]


def test_ai_diffusion_rule_tiers_china_most_restricted(store_dir: Path) -> None:
    rows = answers(store_dir, """
        SELECT ?state ?tier WHERE {
          ?m rv:issuedBy/skos:altLabel "BIS"@en ;
             rv:hasTierAssignment [ rv:tierState/skos:altLabel "China"@en ; rv:tier ?tier ] .
          BIND("cn" AS ?state)
        }""")
    assert rows == [{"state": "cn", "tier": "https://w3id.org/rivalry/ontology#AIDiffusionTier3"}]


def test_every_action_has_sources_with_publisher_title_date_url(store_dir: Path) -> None:
    rows = answers(store_dir, """
        SELECT ?a (COUNT(DISTINCT ?doc) AS ?n) WHERE {
          ?a a rv:Action .
          OPTIONAL { ?a prov:wasDerivedFrom ?doc .
                     ?doc a rv:SourceDocument ; dct:title ?t ; dct:publisher/rdfs:label ?p ;
                          dct:issued ?d ; schema:url ?u . }
        } GROUP BY ?a""")
    assert len(rows) >= 6
    assert all(int(r["n"]) >= 1 for r in rows), rows
