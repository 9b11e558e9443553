"""Signed consent forms uploaded as evidence: PDF or image, at most 5 MB, the
type checked by the file's content (never its name or the browser's claim).
Files are stored by their SHA-256 under the instance folder.

A form is stored before its referral is checked, so a referral refused after
the upload (a duplicate, a paused partnership) leaves a file no consent record
names: housekeeping deletes those a day later (`forget_unused_evidence`)."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from flask import current_app
from sqlalchemy import select
from sqlmodel import Session

from referral.consent.models import ConsentRecord
from referral.errors import ValidationFailed

MAX_EVIDENCE_BYTES = 5 * 1024 * 1024
SIGNATURES = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
)


@dataclass(frozen=True)
class StoredEvidence:
    sha256: str
    content_type: str
    size: int


def sniff_content_type(head: bytes) -> str | None:
    for signature, content_type in SIGNATURES:
        if head.startswith(signature):
            return content_type
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def evidence_folder() -> Path:
    root = current_app.config.get("UPLOAD_FOLDER") or Path(current_app.instance_path) / "uploads"
    folder = Path(root) / "consent-evidence"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def store_evidence(stream: IO[bytes]) -> StoredEvidence:
    """Check and keep an uploaded file. Fails (ValidationFailed on `evidence`)
    on a file that is too large or not a PDF or image."""
    data = stream.read(MAX_EVIDENCE_BYTES + 1)
    if len(data) > MAX_EVIDENCE_BYTES:
        raise ValidationFailed(
            "Some fields are not valid.", errors={"evidence": ["The file is larger than 5 MB."]}
        )
    content_type = sniff_content_type(data[:16])
    if content_type is None:
        raise ValidationFailed(
            "Some fields are not valid.",
            errors={"evidence": ["Upload a PDF or an image (PNG, JPEG or WebP)."]},
        )
    digest = hashlib.sha256(data).hexdigest()
    path = evidence_folder() / digest
    if path.exists():
        # The same form again: fresh again, so housekeeping gives the record
        # about to name it a day to be written.
        os.utime(path)
    else:
        temporary = path.with_suffix(".part")
        temporary.write_bytes(data)
        temporary.replace(path)  # atomic: a half-written file never has the final name
    return StoredEvidence(digest, content_type, len(data))


def evidence_path(sha256: str) -> Path:
    return evidence_folder() / sha256


def delete_evidence_of(session: Session, customer_id: int) -> int:
    """Erasure: delete the customer's uploaded consent forms (a form another
    customer's record also names is kept for that record). Their records keep
    the SHA-256, size and upload time. How many files were deleted."""
    theirs = set(
        session.execute(
            select(ConsentRecord.evidence_sha256).where(
                ConsentRecord.customer_id == customer_id, ConsentRecord.evidence_sha256 != ""
            )
        ).scalars()
    )
    if not theirs:
        return 0
    shared = set(
        session.execute(
            select(ConsentRecord.evidence_sha256).where(
                ConsentRecord.customer_id != customer_id,
                ConsentRecord.evidence_sha256.in_(list(theirs)),  # type: ignore[attr-defined]
            )
        ).scalars()
    )
    deleted = 0
    for sha256 in theirs - shared:
        path = evidence_path(sha256)
        if path.exists():
            path.unlink()
            deleted += 1
    return deleted


# Long enough for any request that stored a form to have committed its record.
UNUSED_EVIDENCE_GRACE = dt.timedelta(days=1)


def forget_unused_evidence(session: Session, *, now: dt.datetime) -> int:
    """Delete the stored forms (and interrupted writes) older than the grace
    period that no consent record names; how many files were deleted."""
    cutoff = (now - UNUSED_EVIDENCE_GRACE).timestamp()
    old = [p for p in evidence_folder().iterdir() if p.is_file() and p.stat().st_mtime < cutoff]
    forms = {p.name: p for p in old if p.suffix == ""}
    named = set(
        session.execute(
            select(ConsentRecord.evidence_sha256).where(
                ConsentRecord.evidence_sha256.in_(list(forms))  # type: ignore[attr-defined]
            )
        ).scalars()
    )
    unused = [p for name, p in forms.items() if name not in named]
    unused += [p for p in old if p.suffix == ".part"]
    for path in unused:
        path.unlink(missing_ok=True)
    return len(unused)
