"""One archive run: the E-ARK CSIP/SIP folder structure around each ERMS file, written into a
temporary folder beside OUTPUT and renamed into place only when every package is complete.

Layout of each package (see docs/archive.md)::

    <package>/METS.xml                                   the root: what is where, with SHA-256
    <package>/metadata/descriptive/ERMS.xml              matters and records (ERMS 3)
    <package>/metadata/preservation/public-key.txt       the integrity log's verifier key
    <package>/representations/rep1/data/ledger-export.jsonl   the integrity export
    <package>/schemas/ERMS_v3.xsd                        the schema ERMS.xml follows
    <package>/documentation/README.txt                   how to verify the package
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from lxml import etree

from api.archive.erms import PackageWriter
from api.archive.scratch import Scratch
from ledger.application import Ledger
from ledger.domain.base import normalise_ref
from ledger.domain.organisation import Organisation
from ledger.errors import InvalidCommand, Problem
from ledger.integrity.log import IntegrityLog

SCHEMA = Path(__file__).parent / "schemas" / "ERMS_v3.xsd"
EXPORT = "representations/rep1/data/ledger-export.jsonl"
ERMS_FILE = "metadata/descriptive/ERMS.xml"
KEY_FILE = "metadata/preservation/public-key.txt"
METS_NS = "http://www.loc.gov/METS/"
XLINK = "http://www.w3.org/1999/xlink"
CSIP = "https://DILCIS.eu/XML/METS/CSIPExtensionMETS"

README = """Samsyn archival package {package}

ERMS.xml (metadata/descriptive) lists the matters and records of {scope}, each record with
the ledger positions of the entries behind it (additionalXMLData/samsyn:entry).
representations/rep1/data/ledger-export.jsonl is the integrity export of the whole ledger
up to position {last}: every entry with its Merkle leaf hash and the signed checkpoints.

To verify it (with Samsyn, or the standalone verifier of docs/integrity.md):

    samsyn verify representations/rep1/data/ledger-export.jsonl \\
        --key metadata/preservation/public-key.txt

Pin the key from a source you trust (the body's published key), not only this copy.
METS.xml names every file with its SHA-256.
"""


class ArchiveError(InvalidCommand):
    """The archive cannot be written as asked (the CLI prints one line and exits 1)."""


@dataclass(frozen=True)
class Scope:
    """Whose matters, over which period: one organisation's, or every organisation's
    (``organisation`` None and ``cooperation`` True: one package for the cooperation)."""

    organisation: str | None = None
    start: date | None = None
    end: date | None = None
    cooperation: bool = False


@dataclass
class Written:
    packages: list[str] = field(default_factory=list)
    matters: int = 0
    entries: int = 0
    last_position: int = 0


Progress = Callable[[str, int, int | None], None]


def write_archive(output: Path, ledger: Ledger, integrity: IntegrityLog, scope: Scope,
                  progress: Progress) -> Written:
    """Write the packages into ``output`` (a new folder), all of them or nothing."""
    output = output.absolute()
    if scope.start and scope.end and scope.start > scope.end:
        raise ArchiveError("--from is after --to", [Problem("from", "after --to")])
    if scope.organisation is not None and ledger.aggregate(
        Organisation.id_for(scope.organisation)
    ) is None:
        raise ArchiveError(f"unknown organisation {scope.organisation!r}",
                           [Problem("organisation", "not in the ledger")])
    if output.exists():
        raise ArchiveError(f"{output} exists; an archive never overwrites",
                           [Problem("output", "exists")])
    if not output.parent.is_dir() or not os.access(output.parent, os.W_OK):
        raise ArchiveError(f"cannot write into {output.parent}",
                           [Problem("output", "folder missing or not writable")])
    work = Path(tempfile.mkdtemp(prefix=f".{output.name}.", dir=output.parent))
    try:
        written = _write(work, ledger, integrity, scope, progress)
        (work / ".scratch.sqlite3").unlink(missing_ok=True)
        work.rename(output)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return written


def _write(work: Path, ledger: Ledger, integrity: IntegrityLog, scope: Scope,
           progress: Progress) -> Written:
    integrity.seal_all(ledger)
    integrity.issue_checkpoint()
    export = work / "ledger-export.jsonl"
    summary = integrity.export(export, ledger=ledger,
                               progress=lambda done, total: progress("exporting", done, total))
    last = summary.last_position or 0
    scratch = Scratch(work / ".scratch.sqlite3")
    try:
        entries = (e for e in ledger.read_all() if e.position <= last)
        count = scratch.fill(entries, lambda p: progress("indexing", p, last))
        written = Written(entries=count, last_position=last)
        for package_id, creator, matters, unfiled, described in _plan(scratch, scope):
            root = work / package_id
            _layout(root, export, integrity.public_key, package_id, described, last)
            writer = PackageWriter(scratch, creator, package_id)
            done = [0]

            def advance(done: list[int] = done, total: int = len(matters),
                        name: str = package_id) -> None:
                done[0] += 1
                progress(f"writing {name}", done[0], total)

            writer.write(root / ERMS_FILE, matters, unfiled, datetime.now(UTC), advance)
            _mets(root, package_id, creator)
            written.packages.append(package_id)
            written.matters += len(matters)
    finally:
        scratch.close()
    export.unlink()
    return written


def _plan(scratch: Scratch, scope: Scope) -> list[tuple[str, str, list[str], list[str], str]]:
    """(package id, creator, matters, unfiled records, scope described) per package."""
    period = (f" opened between {scope.start or 'the first'} and {scope.end or 'the last'}"
              if scope.start or scope.end else "")
    if scope.organisation is not None:
        found = scratch.organisation(scope.organisation)
        if found is None:
            raise ArchiveError(f"unknown organisation {scope.organisation!r}",
                               [Problem("organisation", "not in the ledger")])
        chosen = [found]
    elif scope.cooperation:
        matters = scratch.matters(None, scope.start, scope.end)
        unfiled = scratch.unfiled(None, scope.start, scope.end)
        if not matters and not unfiled:
            raise ArchiveError(f"nothing to archive{period}", [Problem("from", "empty period")])
        return [(f"samsyn-cooperation{_suffix(scope)}", "the cooperation", matters, unfiled,
                 f"every organisation{period}")]
    else:
        chosen = scratch.organisations()
    plans = []
    for ref, name, _kind in chosen:
        matters = scratch.matters(ref, scope.start, scope.end)
        unfiled = scratch.unfiled(ref, scope.start, scope.end)
        if matters or unfiled:
            plans.append((f"samsyn-{_slug(ref)}{_suffix(scope)}", name, matters, unfiled,
                          f"{name} ({ref}){period}"))
    if not plans:
        who = f" of {scope.organisation}" if scope.organisation else ""
        raise ArchiveError(f"no matters or records{who} to archive{period}",
                           [Problem("from", "empty period")])
    return plans


def _slug(ref: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in normalise_ref(ref)) or "organisation"


def _suffix(scope: Scope) -> str:
    return "".join(f"-{d.isoformat()}" for d in (scope.start, scope.end) if d)


def _layout(root: Path, export: Path, key: str, package_id: str, described: str,
            last: int) -> None:
    for folder in ("metadata/descriptive", "metadata/preservation", "representations/rep1/data",
                   "schemas", "documentation"):
        (root / folder).mkdir(parents=True)
    try:
        os.link(export, root / EXPORT)
    except OSError:
        shutil.copyfile(export, root / EXPORT)
    (root / KEY_FILE).write_text(key + "\n", encoding="utf-8")
    shutil.copyfile(SCHEMA, root / "schemas" / SCHEMA.name)
    (root / "documentation" / "README.txt").write_text(
        README.format(package=package_id, scope=described, last=last), encoding="utf-8")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _mets(root: Path, package_id: str, creator: str) -> None:
    """The package's METS root (E-ARK CSIP): the ERMS file as descriptive metadata, the key
    as preservation metadata, the export as the representation, each with its SHA-256."""
    m = f"{{{METS_NS}}}"
    now = datetime.now(UTC).isoformat()
    mets = etree.Element(m + "mets", nsmap={"mets": METS_NS, "xlink": XLINK, "csip": CSIP},
                         OBJID=package_id, TYPE="Other", LABEL=f"Samsyn ledger of {creator}",
                         PROFILE="https://earkcsip.dilcis.eu/profile/E-ARK-CSIP.xml")
    mets.set(f"{{{CSIP}}}OTHERTYPE", "Decision ledger")
    mets.set(f"{{{CSIP}}}CONTENTINFORMATIONTYPE", "OTHER")
    mets.set(f"{{{CSIP}}}OTHERCONTENTINFORMATIONTYPE", "ERMS")
    header = etree.SubElement(mets, m + "metsHdr", CREATEDATE=now, RECORDSTATUS="NEW")
    header.set(f"{{{CSIP}}}OAISPACKAGETYPE", "SIP")
    agent = etree.SubElement(header, m + "agent", ROLE="CREATOR", TYPE="OTHER",
                             OTHERTYPE="SOFTWARE")
    etree.SubElement(agent, m + "name").text = "Samsyn"
    owner = etree.SubElement(header, m + "agent", ROLE="ARCHIVIST", TYPE="ORGANIZATION")
    etree.SubElement(owner, m + "name").text = creator
    sections = (("dmdSec", "dmd", ERMS_FILE, "OTHER", "ERMS"),
                ("amdSec", "amd", KEY_FILE, "OTHER", "Ed25519 verifier key"))
    for section, prefix, path, mdtype, other in sections:
        holder = etree.SubElement(mets, m + section, ID=f"{prefix}-{uuid.uuid4().hex[:8]}")
        if section == "amdSec":
            holder = etree.SubElement(holder, m + "digiprovMD", ID=f"digiprov-{prefix}")
        ref = etree.SubElement(holder, m + "mdRef", LOCTYPE="URL", MDTYPE=mdtype,
                               OTHERMDTYPE=other, MIMETYPE="text/plain" if
                               path.endswith(".txt") else "text/xml",
                               SIZE=str((root / path).stat().st_size), CREATED=now,
                               CHECKSUM=_sha256(root / path), CHECKSUMTYPE="SHA-256")
        ref.set(f"{{{XLINK}}}type", "simple")
        ref.set(f"{{{XLINK}}}href", path)
    files = etree.SubElement(mets, m + "fileSec", ID="filesec")
    groups = (("Representations/rep1", EXPORT, "application/x-ndjson"),
              ("Schemas", "schemas/ERMS_v3.xsd", "text/xml"),
              ("Documentation", "documentation/README.txt", "text/plain"))
    for n, (use, path, mime) in enumerate(groups):
        group = etree.SubElement(files, m + "fileGrp", USE=use, ID=f"grp-{n}")
        entry = etree.SubElement(group, m + "file", ID=f"file-{n}", MIMETYPE=mime,
                                 SIZE=str((root / path).stat().st_size), CREATED=now,
                                 CHECKSUM=_sha256(root / path), CHECKSUMTYPE="SHA-256")
        location = etree.SubElement(entry, m + "FLocat", LOCTYPE="URL")
        location.set(f"{{{XLINK}}}type", "simple")
        location.set(f"{{{XLINK}}}href", path)
    structure = etree.SubElement(mets, m + "structMap", TYPE="PHYSICAL", LABEL="CSIP")
    top = etree.SubElement(structure, m + "div", LABEL=package_id)
    for n, (use, _path, _mime) in enumerate(groups):
        part = etree.SubElement(top, m + "div", LABEL=use)
        etree.SubElement(part, m + "fptr", FILEID=f"file-{n}")
    etree.ElementTree(mets).write(str(root / "METS.xml"), xml_declaration=True,
                                  encoding="utf-8", pretty_print=True)
