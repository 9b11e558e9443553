"""Signed consent forms uploaded as evidence: PDF or image, at most 5 MB, the
type checked by the file's content (never its name or the browser's claim).
Files are stored by their SHA-256 under the instance folder."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from flask import current_app

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
    if not path.exists():
        temporary = path.with_suffix(".part")
        temporary.write_bytes(data)
        temporary.replace(path)  # atomic: a half-written file never has the final name
    return StoredEvidence(digest, content_type)


def evidence_path(sha256: str) -> Path:
    return evidence_folder() / sha256
