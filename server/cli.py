"""The `rivalry` command: build, check, query, export and serve the graph.

Each command is a thin layer over a function of rivalry.graph or rivalry.server.
Exit codes (as the README says): 0 success; 1 facts that do not hold (inconsistent,
failing checks); 2 input that cannot be read (syntax errors, missing files, bad options,
bad queries, bad settings); 3 no store to read; 4 the store failed: a build that cannot
be written (full disk, read-only, permissions) or an external SPARQL server that cannot
be reached, refused a request or did not answer in time; 5 the reasoner could not run
(no Java, out of memory or time, a crash): the message names the setting or fix to try.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, NoReturn

import click
import pyoxigraph as ox

from rivalry.graph import PREFIXES, Term
from rivalry.graph.errors import (
    ExternalStoreError,
    InvalidFacts,
    InvalidInput,
    InvalidOntology,
    QueryError,
    ReasonerUnavailable,
    RivalryError,
    SourceLocation,
    StoreError,
    StoreWriteError,
)
from rivalry.graph.results import write_triples
from rivalry.graph.terms import prefixed_name
from rivalry.server.settings import SECRET_SETTINGS, SETTINGS, load_settings

EXIT_CODES: dict[type[RivalryError], int] = {
    InvalidFacts: 1,
    InvalidInput: 2,
    InvalidOntology: 2,
    QueryError: 2,
    StoreWriteError: 4,
    ExternalStoreError: 4,
    StoreError: 3,
    ReasonerUnavailable: 5,
}


def fail(error: RivalryError) -> None:
    click.echo(f"error: {error}", err=True)
    for kind, code in EXIT_CODES.items():
        if isinstance(error, kind):
            sys.exit(code)
    sys.exit(1)


def settings_from(**overrides: Any) -> dict[str, Any]:
    """The settings, checked as far as the running command reads them (a bad server
    setting does not stop `rivalry build`); `rivalry settings` checks them all."""
    context = click.get_current_context(silent=True)
    command = context.info_name if context is not None else None
    try:
        values = load_settings(overrides, command=None if command == "settings" else command)
    except RivalryError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(2)  # a bad option or setting: input that cannot be used
    if command not in ("serve", "settings"):
        # a command runs once: it reads the build's database where it lies, rather than
        # first copying the whole graph into memory as a server, which answers many
        # queries, does (store_in_memory)
        values["store_in_memory"] = False
    return values


store_option = click.option(
    "--store", "store", type=click.Path(file_okay=False, path_type=Path),
    help="Store directory (default: the `store` setting, RIVALRY_STORE, or var/store).")


#: True in the `rivalry` command's own process (`run`), which ends when the command does;
#: False where the commands are called in a longer-lived process (the tests' runner).
_process_ends_with_command = False


def run() -> None:
    """The `rivalry` command: `main` in a process of its own, which ends with the command
    (so a command may leave what it holds in memory to the system: `end_process`)."""
    global _process_ends_with_command
    _process_ends_with_command = True
    main()


def end_process(code: int) -> NoReturn:
    """End the process now, its output flushed, without freeing what it holds: the
    system reclaims a process's memory at once, where freeing a graph in memory object by
    object takes seconds of one core (rivalry.graph.build.BuildOptions.leave_memory).
    Only for `run`'s process: nothing is left for an exit handler to do there (every file
    the command wrote is closed and in place)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="rivalry")
def main() -> None:
    """rivalry: a knowledge graph of the technology rivalry between states."""


def build_options(settings: dict[str, Any], **overrides: Any) -> Any:
    """The build's options from the settings in force."""
    from rivalry.graph.build import BuildOptions
    from rivalry.graph.consistency import HermitSettings

    return BuildOptions(workers=settings["build_workers"],
                        memory_mb=settings["build_memory_mb"],
                        hermit=HermitSettings(settings["reasoner_java_heap_mb"],
                                              settings["reasoner_time_limit"]),
                        **overrides)


def on_terminal() -> bool:
    return sys.stderr.isatty() and not os.environ.get("CI")


def status_line():  # noqa: ANN201 - a small closure
    """A status line rewritten in place on a terminal (what a phase is doing now)."""
    if not on_terminal():
        return None
    width = [0]

    def show(text: str) -> None:
        text = text[:119]
        sys.stderr.write("\r" + text.ljust(width[0]))
        sys.stderr.flush()
        width[0] = len(text)

    def clear() -> None:
        if width[0]:
            sys.stderr.write("\r" + " " * width[0] + "\r")
            width[0] = 0

    show.clear = clear
    return show


def phase_printer(status):  # noqa: ANN001, ANN201 - a small closure
    def progress(message: str) -> None:
        if status is not None:
            status.clear()
        click.echo(message, err=True)
    return progress


@main.command()
@store_option
@click.option("--facts", type=click.Path(file_okay=False, path_type=Path),
              help="Directory of facts files (default: the curated facts, graph/facts).")
@click.option("--consistency-check/--no-consistency-check", default=True, show_default=True,
              help="Check the ontology and facts with HermiT (needs Java).")
@click.option("--validation/--no-validation", default=True, show_default=True,
              help="Validate the facts against the SHACL shapes.")
@click.option("--full", is_flag=True,
              help="Build everything again, even when only some files changed since the "
                   "current build.")
@click.option("--dumps/--no-dumps", default=True, show_default=True,
              help="Write the dumps of the whole graph (/data) into the build; without "
                   "them the server writes each on its first request. The figures of "
                   "/stats and VoID are written either way.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")
def build(store: Path | None, facts: Path | None, consistency_check: bool, validation: bool,
          full: bool, dumps: bool, quiet: bool) -> None:
    """Build the graph and publish it in the store, atomically.

    Reads the ontology and every facts file, checks the rivalry terms they use,
    materialises inferences, validates the facts against the shapes, checks their
    consistency with HermiT, and swaps the new build in. A failed build leaves the store
    as it was. When the current build kept its state and only some facts files changed,
    the build is incremental: it says what it re-checks, and gives the store a full build
    would give (--full builds everything again).
    """
    from rivalry.graph.build import build as run_build
    from rivalry.graph.remote import RemoteStore

    settings = settings_from(store=store)
    status = None if quiet else status_line()
    progress = (lambda _: None) if quiet else phase_printer(status)
    options = build_options(settings, incremental=not full, dumps=dumps,
                            leave_memory=_process_ends_with_command)
    try:
        target = (RemoteStore.from_settings(settings) if settings["sparql_endpoint"]
                  else settings["store"])
        result = run_build(target, facts, consistency=consistency_check,
                           validation=validation, progress=progress,
                           on_file=None if quiet else file_progress(), options=options,
                           status=status)
    except RivalryError as e:
        if status is not None:
            status.clear()
        fail(e)
    except OSError as e:  # a write that is not the database's (the search index, dumps)
        fail(StoreWriteError.from_os_error(e, "the new build"))
    if result.left_in_memory:  # published: nothing is left to do but free the graph
        end_process(0)


@main.command()
@click.option("--facts", type=click.Path(file_okay=False, path_type=Path),
              help="Directory of facts files (default: the curated facts).")
@click.option("--full-hermit", is_flag=True,
              help="Give HermiT every individual instead of a summary (needs a heap that "
                   "grows with the graph).")
def check(facts: Path | None, full_hermit: bool) -> None:
    """Check the ontology and facts for consistency with HermiT (OWL 2 DL).

    The facts are read with their inferences, HermiT is run on the ontology and a summary
    of the facts, and checks over every fact name the culprits (as `rivalry build` does).
    Exit 0 consistent, 1 inconsistent (or unsatisfiable classes), 2 unreadable input,
    4 the reasoner could not run.
    """
    from rivalry.graph.build import check_facts

    settings = settings_from()
    options = build_options(settings)
    status = status_line()
    try:
        report = check_facts(facts, options, summary=not full_hermit,
                             progress=phase_printer(status), status=status)
    except RivalryError as e:
        if status is not None:
            status.clear()
        fail(e)
    click.echo(f"HermiT: {report.message} "
               f"({report.rewritten_literals} date literals given to HermiT as strings)")
    for line in report.culprits + report.unsatisfiable:
        click.echo(f"  - {line}")
    sys.exit(0 if report.ok else 1)


REPORT_FORMATS = ("text", "json", "turtle")
INPUT_FORMATS = ("turtle", "trig", "ntriples", "nquads", "jsonld", "rdfxml")


@main.command()
@click.argument("files", nargs=-1, required=True,
                type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(sorted(set(REPORT_FORMATS + INPUT_FORMATS))),
              default="text", show_default=True,
              help="text, json or turtle: the report's format. trig, ntriples, nquads, "
                   "jsonld or rdfxml: the files' format, when their extensions do not say "
                   "(turtle also reads files of unknown extension as Turtle).")
@click.option("--input-format", type=click.Choice(INPUT_FORMATS),
              help="Format of the files (default: from each file's extension).")
@click.option("--strict", is_flag=True, help="Warnings fail validation too.")
@click.option("--no-context", is_flag=True,
              help="Validate the files alone, not in the context of the built graph.")
@store_option
def validate(files: tuple[Path, ...], fmt: str, input_format: str | None,
             strict: bool, no_context: bool, store: Path | None) -> None:
    """Validate new facts against the shapes, in the context of the built graph.

    Reads Turtle, TriG, N-Triples, N-Quads, JSON-LD and RDF/XML. The report covers the
    given files' own nodes only. A file that is a new version of a facts file of the
    build (events/x.ttl for the graph facts/events/x) replaces it in the context. Without
    a build, the curated facts shipped with rivalry are the context (a note says so).
    Exit 0 when they conform, 1 on violations (and on warnings with --strict), 2 when a
    file cannot be read.
    """
    from rivalry.graph.load import FORMATS_BY_SUFFIX, read_rdf_file
    from rivalry.graph.store import Store, open_store
    from rivalry.graph.validate import (
        LocalGraph,
        Submission,
        context_for,
        graph_replaced_by,
        shipped_graph,
    )
    from rivalry.graph.validate import validate as run_validate

    report_format = fmt if fmt in REPORT_FORMATS else "text"
    if fmt in INPUT_FORMATS and fmt != "turtle":
        input_format = input_format or fmt
    settings = settings_from(store=store)
    try:
        db: Store | LocalGraph | None = None
        if not no_context:
            try:
                db = open_store(settings)
            except ExternalStoreError:
                raise  # never a report without the graph's context: exit 4, naming it
            except StoreError as e:
                shipped = shipped_graph()
                db = shipped
                click.echo(f"note: {e.message}; validating in the context of "
                           f"{shipped.description} instead", err=True)
        if input_format is None and fmt == "turtle":
            known = [f for f in files if f.suffix.lower() in FORMATS_BY_SUFFIX]
            parts = [(str(f), read_rdf_file(f, "turtle" if f not in known else None))
                     for f in files]
            submission = Submission.from_quads(parts)
        else:
            submission = Submission.from_files(list(files), input_format)
        if db is not None:
            submission.replaces = sorted({g for f in files
                                          if (g := graph_replaced_by(db, f)) is not None})
            for graph in submission.replaces:
                click.echo(f"note: validating a new version of <{graph}>, which is left out "
                           "of the context", err=True)
        report = run_validate(submission, context_for(db, submission), strict=strict)
    except RivalryError as e:
        fail(e)
    if report_format == "json":
        click.echo(report.to_json())
    elif report_format == "turtle":
        click.echo(report.to_turtle())
    else:
        click.echo(report.to_text())
    sys.exit(0 if report.conforms else 1)


TABLE_FORMATS = {"table": None, "csv": ox.QueryResultsFormat.CSV,
                 "tsv": ox.QueryResultsFormat.TSV, "json": ox.QueryResultsFormat.JSON,
                 "xml": ox.QueryResultsFormat.XML}
GRAPH_FORMATS = {"turtle": ox.RdfFormat.TURTLE, "ntriples": ox.RdfFormat.N_TRIPLES,
                 "jsonld": ox.RdfFormat.JSON_LD, "rdfxml": ox.RdfFormat.RDF_XML}


def short(term: Term | None) -> str:
    """A term as a person reads it: prefixed names, plain literal values."""
    if term is None:
        return ""
    if isinstance(term, ox.NamedNode):
        return prefixed_name(term.value) or f"<{term.value}>"
    if isinstance(term, ox.BlankNode):
        return f"_:{term.value}"
    if isinstance(term, ox.Literal):
        return term.value
    return str(term)


def print_table(variables: list[str], rows: list[list[str]]) -> None:
    widths = [max([len(v)] + [len(r[i]) for r in rows]) for i, v in enumerate(variables)]
    click.echo("  ".join(v.ljust(w) for v, w in zip(variables, widths, strict=True)).rstrip())
    click.echo("  ".join("-" * w for w in widths))
    for row in rows:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    click.echo(f"({len(rows)} row{'s' if len(rows) != 1 else ''})", err=True)


@main.command()
@click.argument("query", required=False)
@click.option("-f", "--file", "query_file", type=click.File("r", encoding="utf-8"),
              help="Read the query from a file ('-' for standard input).")
@click.option("--canned", help="Run a canned query of graph/queries by name (see "
              "`rivalry queries`).")
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE",
              help="A canned query's parameter; bound to its variable, never pasted in.")
@click.option("--format", "fmt", type=click.Choice(sorted(TABLE_FORMATS) + sorted(GRAPH_FORMATS)),
              help="Output format: table (default), csv, tsv, json or xml for SELECT and ASK; "
                   "turtle (default), ntriples, jsonld or rdfxml for CONSTRUCT and DESCRIBE.")
@store_option
def query(query: str | None, query_file: Any, canned: str | None, params: tuple[str, ...],
          fmt: str | None, store: Path | None) -> None:
    """Run a SPARQL query against the store.

    Give the query inline (rivalry query 'SELECT ...'), from a file (-f query.rq), or by
    name (--canned cq06-measures-against-company --param company=https://...).
    """
    from rivalry.graph.canned import canned_query
    from rivalry.graph.sparql import inspect_query
    from rivalry.graph.store import open_store

    if sum(x is not None for x in (query, query_file, canned)) != 1:
        click.echo("error: give one query: inline, with --file, or with --canned", err=True)
        sys.exit(2)
    settings = settings_from(store=store)
    bindings = None
    try:
        if canned:
            chosen = canned_query(canned)
            values = {}
            for p in params:
                name, sep, value = p.partition("=")
                if not sep:
                    raise QueryError(f"--param {p!r}: write it as NAME=VALUE")
                values[name] = value
            bindings = chosen.bindings(values)
            text = chosen.text
        elif params:
            raise QueryError("--param goes with --canned")
        else:
            text = query if query is not None else query_file.read()
        if inspect_query(text).form == "UPDATE":
            raise QueryError("this is a SPARQL update: `rivalry query` runs queries only "
                             "(SELECT, ASK, CONSTRUCT, DESCRIBE); the graph changes through "
                             "its facts files and `rivalry build`")
        result = open_store(settings).query(text, bindings=bindings)
        if result.kind == "graph":
            if fmt in TABLE_FORMATS:
                raise QueryError(f"--format {fmt} is for SELECT and ASK; a {result.kind} query "
                                 "gives triples: use turtle, ntriples, jsonld or rdfxml")
            rdf = GRAPH_FORMATS[fmt or "turtle"]
            sys.stdout.buffer.write(write_triples(list(result.triples()), rdf, PREFIXES))
            return
        if fmt in GRAPH_FORMATS:
            raise QueryError(f"--format {fmt} is for CONSTRUCT and DESCRIBE; this query gives "
                             "a results table: use table, csv, tsv, json or xml")
        if fmt in (None, "table"):
            if result.kind == "ask":
                click.echo("true" if result.boolean else "false")
            else:
                print_table(result.variables,
                            [[short(t) for t in row] for row in result.rows()])
            return
        table_format = TABLE_FORMATS[fmt]
        assert table_format is not None  # None is "table", written above
        sys.stdout.buffer.write(result.serialize(table_format))
    except RivalryError as e:
        fail(e)
    except RuntimeError as e:  # pyoxigraph: a binding for a variable the query lacks
        fail(QueryError(str(e)))


EXPORT_FORMATS = {"turtle": ox.RdfFormat.TURTLE, "ntriples": ox.RdfFormat.N_TRIPLES,
                  "nquads": ox.RdfFormat.N_QUADS, "trig": ox.RdfFormat.TRIG,
                  "jsonld": ox.RdfFormat.JSON_LD}


@main.command()
@click.option("--format", "fmt", type=click.Choice(sorted(EXPORT_FORMATS)), default="trig",
              show_default=True,
              help="trig, nquads and jsonld keep the named graphs; turtle and ntriples give "
                   "the union of all graphs.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="File to write (default: standard output).")
@store_option
def export(fmt: str, output: Path | None, store: Path | None) -> None:
    """Write the whole graph: ontology, facts, metadata and inferences."""
    from rivalry.graph.export import export_graph
    from rivalry.graph.store import open_store

    settings = settings_from(store=store)
    try:
        db = open_store(settings)
        if output is None:
            export_graph(db, EXPORT_FORMATS[fmt], sys.stdout.buffer)
        else:
            _export_to_file(db, EXPORT_FORMATS[fmt], output)
    except RivalryError as e:
        fail(e)


def _export_to_file(db: Any, fmt: ox.RdfFormat, output: Path) -> None:
    """Written beside the file and renamed over it once whole: a failure (no such folder,
    no permission, a full disk) leaves no part of a graph behind, and any file that was
    there as it was."""
    import os

    from rivalry.graph.export import export_graph

    partial = output.with_name(f".{output.name}.partial-{os.getpid()}")
    try:
        export_graph(db, fmt, partial)
        os.replace(partial, output)
    except OSError as e:
        partial.unlink(missing_ok=True)
        raise InvalidInput(SourceLocation(str(output)),
                           f"cannot be written: {e.strerror or e}",
                           "give -o a file in a folder that exists and may be written, on "
                           "a disk with room") from None


@main.command()
@click.option("--host", help="Interface to listen on (setting `host`; default 127.0.0.1).")
@click.option("--port", type=int, help="Port to listen on (setting `port`; default 8000).")
@click.option("--workers", type=int, help="Worker processes (setting `workers`).")
@click.option("--dev", is_flag=True,
              help="Run Flask's development server with reloading instead of the front "
                   "and its workers.")
@store_option
def serve(host: str | None, port: int | None, workers: int | None, dev: bool,
          store: Path | None) -> None:
    """Serve the graph over HTTP: the SPARQL endpoint and pages.

    An event-driven front holds the connections and hands whole requests to worker
    processes, which it stops when a request runs past its time limit (docs/serving.md).
    """
    from rivalry.server import create_app

    settings = settings_from(host=host, port=port, workers=workers,
                             store=str(store) if store else None)
    from rivalry.server.serve import listen, run

    try:
        sock = listen(settings["host"], settings["port"])
    except RivalryError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(2)
    url = f"http://{settings['host']}:{settings['port']}/"
    where = settings["sparql_endpoint"] or settings["store"]
    click.echo(f"serving {where} at {url} (SPARQL: {url}sparql)", err=True)
    if dev:
        sock.close()
        try:
            app = create_app(settings)
        except RivalryError as e:
            fail(e)
        app.run(host=settings["host"], port=settings["port"], debug=True)
        return
    run(settings, sock)


@main.command()
@click.option("--measures", type=click.IntRange(min=1), required=True,
              help="How many actions to generate (100,000 gives about 2 million triples).")
@click.option("--seed", type=int, default=1, show_default=True,
              help="The same seed always gives the same graph.")
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path),
              required=True, help="Directory to write: a facts directory for `rivalry build "
              "--facts` (the curated facts are copied in too: the synthetic actions use its "
              "states).")
def synth(measures: int, seed: int, output: Path) -> None:
    """Write a deterministic synthetic graph in the ontology, for benchmarks."""
    import shutil

    from rivalry.graph import facts_dir
    from rivalry.graph.synth import synthesize

    if output.exists() and any(output.iterdir()):
        fail(InvalidInput(SourceLocation(str(output)), "the output directory is not empty",
                          "give a new directory"))
    shutil.copytree(Path(str(facts_dir())), output, dirs_exist_ok=True)
    reporter = progress_reporter("synthesized", measures)
    files = synthesize(output, measures, seed, progress=reporter)
    click.echo(f"wrote {len(files)} files with {measures} actions to {output}", err=True)


def file_progress():  # noqa: ANN201 - a small closure
    """Files and triples read, with the rate, on a terminal only (not in CI, not piped)."""
    import os
    import time

    if not sys.stderr.isatty() or os.environ.get("CI"):
        return None
    start = time.monotonic()

    def report(done: int, total: int, triples: int) -> None:
        rate = triples / max(time.monotonic() - start, 1e-9)
        end = "\n" if done >= total else ""
        sys.stderr.write(f"\rread {done:,}/{total:,} files, {triples:,} triples "
                         f"({rate:,.0f} triples/s)" + end)
        sys.stderr.flush()

    return report


def progress_reporter(verb: str, total: int):  # noqa: ANN201 - a small closure
    """Counts and rate on a terminal; nothing when output is not a terminal or in CI."""
    import os
    import time

    if not sys.stderr.isatty() or os.environ.get("CI"):
        return None
    start = time.monotonic()

    def report(done: int) -> None:
        rate = done / max(time.monotonic() - start, 1e-9)
        end = "\n" if done >= total else ""
        sys.stderr.write(f"\r{verb} {done:,}/{total:,} ({rate:,.0f}/s)" + end)
        sys.stderr.flush()

    return report


def open_search_index(settings: dict[str, Any]):  # noqa: ANN201 - rivalry.graph.search
    from rivalry.graph.search import open_index
    from rivalry.graph.store import open_store

    return open_index(open_store(settings))


@main.command()
@click.argument("text")
@click.option("--type", "types", multiple=True, metavar="TYPE",
              help="Only entities of this type (Company, State, Sanction, rv:Measure, or "
                   "the class IRI); repeat for several.")
@click.option("--issuer", help="Only actions issued by this state, union or agency (state/us, "
                               "agency:us-bis, or its IRI).")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
@store_option
def search(text: str, types: tuple[str, ...], issuer: str | None, limit: int, fmt: str,
           store: Path | None) -> None:
    """Find entities and actions by name, in any language the graph holds.

    Exact names first, then names starting with TEXT, then names with all its words,
    then near spellings. Uses the search index built with the store.
    """
    import json

    settings = settings_from(store=store)
    try:
        index = open_search_index(settings)
        classes = []
        for ref in types:
            found = index.resolve_class(ref)
            if found is None:
                raise QueryError(f"--type {ref!r} is not a type of the graph's entities; "
                                 "known: " + ", ".join(v[0] for v in index.classes().values()))
            classes.append(found)
        issuer_entity = None
        if issuer:
            issuer_entity = index.resolve(issuer)
            if issuer_entity is None:
                raise QueryError(f"--issuer {issuer!r} is not an entity of the graph")
        hits = index.search(text, classes=classes,
                            issuer=issuer_entity.id if issuer_entity else None, limit=limit)
    except RivalryError as e:
        fail(e)
    if fmt == "json":
        click.echo(json.dumps([{
            "id": h.entity.iri, "label": h.entity.label, "matched_name": h.name,
            "match": h.tier_name, "score": h.score, "type": h.entity.kind,
            "country": h.entity.country, "issuer": h.entity.polity, "date": h.entity.date}
            for h in hits], indent=2, ensure_ascii=False))
        return
    print_table(["entity", "label", "type", "match", "score", "matched name"], [
        [short(ox.NamedNode(h.entity.iri)), h.entity.label, h.entity.kind_label, h.tier_name,
         f"{h.score:g}", h.name] for h in hits])


@main.command()
@click.argument("file", type=click.File("rb"))
@click.option("--on", "on", metavar="DATE",
              help="Measures in force on this date, YYYY-MM-DD (default: today).")
@click.option("--threshold", type=click.FloatRange(0, 100), default=None,
              help="Lowest score (0-100) of a candidate reported (default 80).")
@click.option("--no-parents", is_flag=True,
              help="Leave out measures that target a parent organization only.")
@click.option("--format", "fmt", type=click.Choice(["csv", "json", "table"]), default="csv",
              show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="File to write (default: standard output).")
@store_option
def screen(file: Any, on: str | None, threshold: float | None, no_parents: bool, fmt: str,
           output: Path | None, store: Path | None) -> None:
    """Screen a CSV of names against the graph: who is targeted by what, on a date.

    FILE (or - for standard input) has a header line naming its columns: name, and
    optionally country (CN, China or state/cn), identifier (a Wikidata item, an IRI)
    and ref (yours, given back). For each name: the matching entities with a score, and
    the measures in force on the date that target them or their parents, with sources.
    A row that cannot be screened gets an error of its own; the others are screened.
    """
    import json

    from rivalry.graph.screening import (
        DEFAULT_THRESHOLD,
        read_csv,
        to_csv,
        to_dict,
        to_rows,
    )
    from rivalry.graph.screening import screen as run_screen

    settings = settings_from(store=store)
    try:
        rows, warnings = read_csv(file.read(), getattr(file, "name", "input"))
        result = run_screen(open_search_index(settings), rows, on,
                            DEFAULT_THRESHOLD if threshold is None else threshold,
                            parents=not no_parents)
    except RivalryError as e:
        fail(e)
    result.warnings = warnings
    for w in warnings:
        click.echo(f"warning: {w}", err=True)
    if fmt == "csv":
        text = to_csv(result)
    elif fmt == "json":
        text = json.dumps(to_dict(result), indent=2, ensure_ascii=False) + "\n"
    else:
        columns = ["row", "name", "status", "entity_label", "score", "measure_label",
                   "in_force_from", "via_label", "error"]
        lines = to_rows(result)
        if output is None:
            print_table(columns, [[line[c] for c in columns] for line in lines])
            text = None
        else:
            text = "\n".join("\t".join(line[c] for c in columns) for line in lines) + "\n"
    if text is not None:
        if output is None:
            sys.stdout.write(text)
        else:
            output.write_text(text, "utf-8")
    counts = result.counts()
    click.echo(f"screened {len(result.results)} names on {result.on}: {counts['match']} "
               f"matched, {counts['possible match']} possible, {counts['no match']} without "
               f"a match, {counts['error']} with errors", err=True)


@main.command("match-quality")
@click.argument("file", type=click.File("r", encoding="utf-8-sig"))
@click.option("--threshold", type=click.FloatRange(0, 100), default=None,
              help="Score an answer needs to count for precision (default 80, as screening).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
@store_option
def match_quality(file: Any, threshold: float | None, fmt: str, store: Path | None) -> None:
    """Precision and recall of name matching on a labelled set of name variants.

    FILE is a CSV with the columns query, expected (an entity id such as company/huawei,
    empty for a name the graph does not hold), type and variant (optional); the
    project's own set is tests/data/name-variants.csv.
    """
    import json

    from rivalry.graph.evaluate import evaluate, read_cases
    from rivalry.graph.screening import DEFAULT_THRESHOLD

    settings = settings_from(store=store)
    try:
        cases = read_cases(file.read(), getattr(file, "name", "input"))
        quality = evaluate(open_search_index(settings), cases,
                           DEFAULT_THRESHOLD if threshold is None else threshold)
    except RivalryError as e:
        fail(e)
    click.echo(json.dumps(quality.to_dict(), indent=2) if fmt == "json" else quality.to_text())


@main.command("stats")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
@store_option
def show_stats(fmt: str, store: Path | None) -> None:
    """Counts of the graph by type, issuer and year, sources by kind, issuer documents,
    single-source facts, Wikidata links, and the coverage targets (years through this one)."""
    import datetime
    import json

    from rivalry.graph.products import build_stats
    from rivalry.graph.stats import stats
    from rivalry.graph.store import open_store

    settings = settings_from(store=store)
    try:
        opened = open_store(settings)
        result = build_stats(opened)
        if not result.complete:
            # the build kept the first of each list of facts: a curator wants them all
            result = stats(opened)
    except RivalryError as e:
        fail(e)
    this_year = datetime.date.today().year
    click.echo(json.dumps(result.to_dict(this_year), indent=2, ensure_ascii=False)
               if fmt == "json" else result.to_text(this_year))


@main.command("queries")
def list_queries() -> None:
    """List the canned queries and their parameters."""
    from rivalry.graph.canned import canned_queries

    for q in canned_queries():
        click.echo(f"{q.name}: {q.title}")
        for p in q.params:
            click.echo(f"    --param {p.name}={p.default}  ({p.description})")


@main.command("settings")
def show_settings() -> None:
    """List the settings, their environment variables, values and help."""
    values = settings_from()
    for s in SETTINGS:
        shown = ("(set)" if values[s.name] else "''") if s.name in SECRET_SETTINGS \
            else repr(values[s.name])
        click.echo(f"{s.name} = {shown}  [{s.env}]\n    {s.help}")


if __name__ == "__main__":
    run()
