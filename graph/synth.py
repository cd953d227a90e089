"""A deterministic synthetic graph in the ontology, shaped like the curated one, for
benchmarks and scale tests. It is marked as synthetic everywhere: entity slugs start
with `synth-`, labels say "synthetic", and source addresses are under example.org
(RFC 2606), so nothing in it can be mistaken for a curated fact. It passes the shapes.

The real states of the curated graph (with their Wikidata items) are reused; agencies,
companies, technologies, sources and actions are generated.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from rivalry.ontology import NAMESPACE

ACTION_KINDS = [
    # (class, share, needs technology, needs target)
    ("Sanction", 14, False, True),
    ("ExportControl", 18, True, False),
    ("EntityListing", 16, False, True),
    ("Tariff", 8, False, True),
    ("InvestmentRestriction", 6, False, True),
    ("MarketAccessRestriction", 8, False, True),
    ("Investigation", 6, False, True),
    ("DiplomaticProtest", 12, False, False),
    ("Denial", 6, False, False),
    ("Statement", 6, False, False),
]
STATEMENTS = {"DiplomaticProtest", "Denial", "Statement"}
STATES = ["us", "cn", "nl", "jp", "ru"]
STATUSES = ["InForce", "Proposed", "Announced", "Rescinded", "Suspended"]
BASES = ["ExplicitlyStated", "ReportedByMedia", "AnalystInference"]
STANCES = ["Condemns", "ThreatensCountermeasures", "Accuses", "ComplainsOfficially"]
SECTORS = ["semiconductors", "artificial-intelligence", "telecommunications", "cyber",
           "batteries", "critical-minerals", "defense", "drones", "social-media", "automotive"]
TOP_TECHNOLOGIES = ["semiconductors", "critical-minerals", "battery-technology",
                    "telecom-equipment", "artificial-intelligence", "quantum"]
PER_FILE = 1000

PREFIXES = f"""@prefix rv:      <{NAMESPACE}> .
@prefix rdfs:    <http://www.w3.org/2000/01/rdf-schema#> .
@prefix xsd:     <http://www.w3.org/2001/XMLSchema#> .
@prefix prov:    <http://www.w3.org/ns/prov#> .
@prefix dct:     <http://purl.org/dc/terms/> .
@prefix skos:    <http://www.w3.org/2004/02/skos/core#> .
@prefix org:     <http://www.w3.org/ns/org#> .
@prefix schema:  <https://schema.org/> .
@prefix sem:     <http://semanticweb.cs.vu.nl/2009/11/sem/> .
@prefix action:  <https://w3id.org/rivalry/id/action/> .
@prefix agency:  <https://w3id.org/rivalry/id/agency/> .
@prefix company: <https://w3id.org/rivalry/id/company/> .
@prefix organization: <https://w3id.org/rivalry/id/organization/> .
@prefix person:  <https://w3id.org/rivalry/id/person/> .
@prefix state:   <https://w3id.org/rivalry/id/state/> .
@prefix source:  <https://w3id.org/rivalry/id/source/> .
@prefix sector:  <https://w3id.org/rivalry/id/sector/> .
@prefix tech:    <https://w3id.org/rivalry/id/technology/> .
@prefix response: <https://w3id.org/rivalry/id/response/> .
@prefix program: <https://w3id.org/rivalry/id/program/> .
"""


@dataclass
class Universe:
    agencies: dict[str, list[str]]  # state -> agency slugs that issue
    companies: list[tuple[str, str]]  # (slug, state)
    technologies: list[str]
    programs: list[str]
    publishers: list[str]
    people: dict[str, list[str]]  # state -> spokespeople


def _universe(measures: int, rng: random.Random) -> Universe:
    agencies = {s: [f"synth-{s}-agency-{i:03d}" for i in range(3 * 3)] for s in STATES}
    companies = [(f"synth-company-{i:05d}", rng.choice(STATES))
                 for i in range(max(20, measures // 20))]
    technologies = [f"synth-tech-{i:04d}" for i in range(max(12, min(400, measures // 50)))]
    programs = [f"synth-program-{i:03d}" for i in range(12)]
    publishers = [f"synth-publisher-{i:03d}" for i in range(20)]
    people = {s: [f"synth-{s}-spokesperson-{i}" for i in range(3)] for s in STATES}
    return Universe(agencies, companies, technologies, programs, publishers, people)


def _reference(u: Universe, rng: random.Random) -> str:
    out = [PREFIXES, "# Synthetic reference entities (benchmarks only; not curated facts).\n"]
    for state, slugs in u.agencies.items():
        for i, slug in enumerate(slugs):
            parent = slugs[(i // 3) * 3]
            place = (f"rv:agencyOf state:{state}" if slug == parent
                     else f"org:subOrganizationOf agency:{parent}")
            out.append(f'agency:{slug} a rv:GovernmentAgency ; rdfs:label "Synthetic agency '
                       f'{slug}"@en ; {place} .\n')
        for person in u.people[state]:
            out.append(f'person:{person} a rv:Person ; rdfs:label "Synthetic spokesperson '
                       f'{person}"@en ; rv:country state:{state} .\n')
    for i, (slug, state) in enumerate(u.companies):
        # every tenth company (after the first ten) is a subsidiary of an earlier one, so
        # that screening meets parent companies at scale; no random draw, so the rest of
        # the graph is the same as without them
        parent = (f" ; org:subOrganizationOf company:{u.companies[i // 10][0]}"
                  if i >= 10 and i % 10 == 9 else "")
        out.append(f'company:{slug} a rv:Company ; rdfs:label "Synthetic company {slug}"@en ; '
                   f'rv:country state:{state}{parent} .\n')
    for i, slug in enumerate(u.technologies):
        broader = (f"tech:{TOP_TECHNOLOGIES[i % len(TOP_TECHNOLOGIES)]}" if i < 30
                   else f"tech:{u.technologies[rng.randrange(30)]}")
        out.append(f'tech:{slug} a rv:Technology ; skos:inScheme rv:TechnologyScheme ; '
                   f'skos:prefLabel "synthetic technology {slug}"@en ; skos:broader {broader} .\n')
    for slug in u.programs:
        out.append(f'program:{slug} a rv:Program ; rdfs:label "Synthetic program {slug}"@en .\n')
    for slug in u.publishers:
        out.append(f'organization:{slug} a rv:Organization ; rdfs:label "Synthetic publisher '
                   f'{slug}"@en .\n')
    return "".join(out)


def _actions(measures: int, u: Universe, rng: random.Random) -> Iterator[str]:
    kinds = [k for k in ACTION_KINDS for _ in range(k[1])]
    start = date(2018, 1, 1)
    span = (date(2025, 12, 31) - start).days
    dates = sorted(start + timedelta(days=rng.randrange(span)) for _ in range(measures))
    measure_ids: list[tuple[str, date, str]] = []  # (slug, date, state) of measures so far
    for n, day in enumerate(dates):
        cls, _, needs_tech, needs_target = rng.choice(kinds)
        state = rng.choice(STATES)
        slug = f"synth-{n:07d}"
        issuer = rng.choice(u.agencies[state])
        sources = [f"synth-doc-{n:07d}-{k}" for k in range(1 + (rng.random() < 0.7))]
        lines = [f"action:{slug} a rv:{cls} ;",
                 f'    rdfs:label "Synthetic {cls} {n}"@en ;',
                 f"    rv:issuedBy agency:{issuer} ;",
                 f'    rv:announcedOn "{day.isoformat()}"^^xsd:date ;',
                 f"    rv:sector sector:{rng.choice(SECTORS)} ;"]
        responds = None
        if cls in STATEMENTS:
            if not measure_ids:
                cls = "Sanction"
                lines[0] = f"action:{slug} a rv:Sanction ;"
                needs_target = True
            else:
                about = measure_ids[rng.randrange(max(0, len(measure_ids) - 200),
                                                  len(measure_ids))]
                lines.append(f"    rv:about action:{about[0]} ;")
                lines.append(f"    rv:onBehalfOf agency:{issuer} ;")
                lines.append(f"    rv:stance rv:{rng.choice(STANCES)} ;")
                lines.append(f'    rv:quote "synthetic quote {n}"@en ;')
                if cls == "DiplomaticProtest":
                    lines.append(f"    rv:spokenBy person:{rng.choice(u.people[state])} ;")
                responds = about
        if cls not in STATEMENTS:
            lines.append(f"    rv:status rv:{rng.choice(STATUSES)} ;")
            lines.append(f"    rv:underProgram program:{rng.choice(u.programs)} ;")
            effective = day + timedelta(days=rng.choice([0, 0, 1, 30, 60]))
            lines.append(f'    rv:effectiveOn "{effective.isoformat()}"^^xsd:date ;')
            if needs_target or rng.random() < 0.3:
                targets = {rng.choice(u.companies)[0] for _ in range(rng.randint(1, 3))}
                lines.append("    rv:targets " + " , ".join(f"company:{t}" for t in
                                                          sorted(targets)) + " ;")
            if needs_tech or rng.random() < 0.3:
                techs = {rng.choice(u.technologies) for _ in range(rng.randint(1, 3))}
                lines.append("    rv:controlsTechnology " + " , ".join(
                    f"tech:{t}" for t in sorted(techs)) + " ;")
            if measure_ids and rng.random() < 0.3:
                responds = measure_ids[rng.randrange(max(0, len(measure_ids) - 500),
                                                     len(measure_ids))]
            measure_ids.append((slug, day, state))
        if responds is not None and responds[1] <= day:
            lines.append(f"    rv:respondsTo action:{responds[0]} ;")
            lines.append(f"    rv:qualifiedResponse response:{slug} ;")
        lines.append("    prov:wasDerivedFrom " + " , ".join(f"source:{s}" for s in sources)
                     + " .")
        block = "\n".join(lines) + "\n"
        if responds is not None and responds[1] <= day:
            block += (f"response:{slug} a rv:Response ; rv:responseTo action:{responds[0]} ; "
                      f"rv:responseBasis rv:{rng.choice(BASES)} ; "
                      f"sem:accordingTo agency:{issuer} ; "
                      f"prov:wasDerivedFrom source:{sources[0]} .\n")
        for s in sources:
            block += (f'source:{s} a rv:SourceDocument ; dct:title "Synthetic document {s}"@en ; '
                      f"dct:publisher organization:{rng.choice(u.publishers)} ; "
                      f'dct:issued "{day.isoformat()}"^^xsd:date ; '
                      f"schema:url <https://example.org/synth/{s}> ; "
                      f"rv:sourceKind rv:NewsReport .\n")
        yield block


def synthesize(directory: Path, measures: int, seed: int = 1,
               progress: Callable[[int], None] | None = None) -> list[Path]:
    """Write a synthetic facts directory: reference/synthetic.ttl and events/*.ttl, with
    `measures` actions, the same every time for the same seed. Returns the files."""
    if measures < 1:
        raise ValueError("the number of measures must be at least 1")
    rng = random.Random(seed)
    universe = _universe(measures, rng)
    (directory / "reference").mkdir(parents=True, exist_ok=True)
    (directory / "events").mkdir(parents=True, exist_ok=True)
    files = [directory / "reference" / "synthetic.ttl"]
    files[0].write_text(_reference(universe, rng), "utf-8")
    chunk: list[str] = []
    for i, block in enumerate(_actions(measures, universe, rng), start=1):
        chunk.append(block)
        if len(chunk) == PER_FILE or i == measures:
            path = directory / "events" / f"synthetic-{(i - 1) // PER_FILE:05d}.ttl"
            path.write_text(PREFIXES + "\n" + "\n".join(chunk), "utf-8")
            files.append(path)
            chunk = []
            if progress:
                progress(i)
    return files
