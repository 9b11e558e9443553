"""Reading the CSV files other tools export: encoding, delimiter, line endings,
the header, and the parsing of each cell into a customer and a job.

Nothing here touches the database: `referral.customers.imports` matches what
this reads against the business's customers and writes it.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import marshmallow as ma
import phonenumbers

from referral.businesses.geo import locate_zip
from referral.customers.models import MarketingPermission
from referral.customers.schemas import MAX_JOB_CENTS, split_extension
from referral.errors import ValidationFailed
from referral.money import parse_amount
from referral.spreadsheet import restored

MAX_IMPORT_BYTES = 20 * 1024 * 1024
MAX_IMPORT_ROWS = 100_000
# No single cell is longer than the file itself, so no file within the upload
# limit trips the csv module's field limit (131,072 characters by default).
csv.field_size_limit(MAX_IMPORT_BYTES)

ENCODINGS = {
    "utf-8": "UTF-8",
    "utf-8-sig": "UTF-8 with byte-order mark",
    "utf-16": "UTF-16 (with byte-order mark)",
    "cp1252": "Windows-1252 (Western European)",
}
DELIMITERS = {",": "Comma (,)", ";": "Semicolon (;)", "\t": "Tab"}
LINE_ENDINGS = {"\r\n": "Windows (CR LF)", "\n": "Unix and macOS (LF)", "\r": "Classic Mac (CR)"}
SAMPLE_BYTES = 64 * 1024


class FileProblem(ValidationFailed):
    """The file as a whole cannot be read as a customer list; the message says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message, errors={"file": [message]})


@dataclass(frozen=True)
class Dialect:
    encoding: str
    delimiter: str
    line_ending: str


SPREADSHEET_SIGNATURES = (
    (b"PK\x03\x04", "an Excel or OpenDocument spreadsheet (.xlsx or .ods)"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Excel spreadsheet (.xls)"),
)


def detect_encoding(raw: bytes) -> str:
    """UTF-8 (with or without BOM), UTF-16 with its BOM, else Windows-1252.
    FileProblem for an empty file, a spreadsheet or binary data."""
    if not raw.strip(b" \t\r\n\x00"):
        raise FileProblem("The file is empty: export the customer list again and upload it.")
    for signature, what in SPREADSHEET_SIGNATURES:
        if raw.startswith(signature):
            raise FileProblem(
                f"This is {what} renamed to .csv, not a CSV file: open it in the "
                "spreadsheet and use File > Save as > CSV, then upload that file."
            )
    if raw.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if b"\x00" in raw[:SAMPLE_BYTES]:
        raise FileProblem(
            "The file is not text (it contains NUL bytes): upload a CSV file, or a "
            "UTF-16 file with its byte-order mark."
        )
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        for start in range(0, len(raw), SAMPLE_BYTES):
            decoder.decode(raw[start : start + SAMPLE_BYTES])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return "cp1252"
    return "utf-8"


def text_stream(raw: bytes | BinaryIO, encoding: str) -> io.TextIOWrapper:
    """The file's text, decoded as it is read (newline="" as the csv module needs)."""
    errors = "strict" if encoding != "cp1252" else "replace"
    stream = io.BytesIO(raw) if isinstance(raw, bytes) else raw
    return io.TextIOWrapper(stream, encoding=encoding, errors=errors, newline="")


def _sample(raw: bytes, encoding: str) -> str:
    stream = text_stream(raw, encoding)
    try:
        return stream.read(SAMPLE_BYTES)
    except UnicodeError as exc:  # UTF-16 without its byte-order mark is not a decode error
        raise FileProblem(
            f"The file cannot be read as {ENCODINGS[encoding]}: {getattr(exc, 'reason', exc)}."
        ) from exc


def detect_line_ending(sample: str) -> str:
    if "\r\n" in sample:
        return "\r\n"
    if "\r" in sample and "\n" not in sample:
        return "\r"
    return "\n"


def detect_delimiter(sample: str) -> str:
    """The delimiter (comma, semicolon or tab) that splits the first lines into
    the same, largest number of fields."""
    lines = [line for line in re.split(r"\r\n|\r|\n", sample)[:20] if line.strip()][:-1] or [sample]
    best, best_score = ",", (0, 0)
    for delimiter in DELIMITERS:
        counts = [len(row) for row in csv.reader(lines, delimiter=delimiter)]
        if not counts or counts[0] < 2:
            continue
        consistent = sum(1 for count in counts if count == counts[0])
        score = (consistent, counts[0])
        if score > best_score:
            best, best_score = delimiter, score
    return best


def sniff(raw: bytes) -> Dialect:
    """How the file is written. FileProblem when it is not a text file."""
    encoding = detect_encoding(raw)
    sample = _sample(raw, encoding)
    return Dialect(
        encoding=encoding,
        delimiter=detect_delimiter(sample),
        line_ending=detect_line_ending(sample),
    )


@dataclass
class Header:
    columns: list[str]  # unique names (a repeated name gets " (2)")
    line: int  # the line it is on (1 unless blank lines come first)

    def matches(self, cells: list[str]) -> bool:
        """A line that repeats the header (files glued together)."""
        if not cells or cells[0].strip().lower() != self.columns[0].lower():
            return False
        names = [cell.strip().lower() for cell in cells if cell.strip()]
        return names == [c.lower() for c in self.columns if c][: len(names)] and len(names) > 1


@dataclass
class Record:
    line: int
    cells: list[str]


def records(raw: bytes | BinaryIO, dialect: Dialect) -> Iterator[Record]:
    """Every non-blank line of the file (its bytes, or a stream of them) as its
    cells, streamed. FileProblem when the file cannot be decoded or parsed
    (with the line)."""
    reader = csv.reader(text_stream(raw, dialect.encoding), delimiter=dialect.delimiter)
    line = 1
    try:
        for cells in reader:
            if any(cell.strip() for cell in cells):
                yield Record(line=line, cells=cells)
            line = reader.line_num + 1
    except UnicodeError as exc:  # UTF-16 without its byte-order mark is not a decode error
        raise FileProblem(
            f"Line {line} cannot be read as {ENCODINGS[dialect.encoding]}: choose another encoding."
        ) from exc
    except csv.Error as exc:
        raise FileProblem(f"Line {line} cannot be read as CSV: {exc}.") from exc


LOOKS_LIKE_DATA = (
    (re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$"), "an email address"),
    (re.compile(r"^[\d\s().+-]{7,}$"), "a number"),
)


def read_header(first: Record | None) -> Header:
    """The column names on the file's first line. FileProblem when there are no
    lines, or the first line looks like a customer rather than column names."""
    if first is None:
        raise FileProblem("The file is empty: export the customer list again and upload it.")
    for cell in first.cells:
        for pattern, what in LOOKS_LIKE_DATA:
            if pattern.match(cell.strip()):
                raise FileProblem(
                    f"The file has no header: its first line holds {what} ({cell.strip()!r}) "
                    "where the names of the columns should be. Add a first line naming "
                    "the columns, such as Name,Email,Phone."
                )
    columns: list[str] = []
    for index, cell in enumerate(first.cells):
        name = cell.strip() or f"Column {index + 1}"
        unique, n = name, 2
        while unique in columns:
            unique, n = f"{name} ({n})", n + 1
        columns.append(unique)
    return Header(columns=columns, line=first.line)


# --- Referral's fields, and the column names other tools give them -------------------------

FIELDS: dict[str, str] = {
    "name": "Name",
    "first_name": "First name",
    "last_name": "Last name",
    "email": "Email",
    "phone": "Phone",
    "mobile": "Mobile",
    "phone_extension": "Phone extension",
    "address": "Street",
    "city": "City",
    "state": "State",
    "zip_code": "ZIP code",
    "notes": "Notes",
    "marketing_permission": "Marketing permission",
    "marketing_permission_date": "Marketing permission date",
    "marketing_permission_source": "Marketing permission source",
    "external_id": "Customer id in your other tool",
    "job_external_id": "Job or invoice number",
    "job_date": "Job date",
    "job_amount": "Job value",
    "job_description": "Job description",
    "job_trade": "Job trade",
}
JOB_FIELDS = ("job_external_id", "job_date", "job_amount", "job_description", "job_trade")


def header_key(header: str) -> str:
    """A column name without case, spaces or punctuation ("E-mail" -> "email")."""
    return re.sub(r"[^a-z0-9]", "", header.lower())


# Header names (letters and digits only, lower case) used by CRM, field-service
# and accounting exports (Jobber, Housecall Pro, ServiceTitan, QuickBooks,
# Square, HubSpot, Salesforce, Mailchimp...) and by Referral's own export.
HEADER_NAMES: dict[str, tuple[str, ...]] = {
    "name": (
        "name", "customername", "clientname", "fullname", "displayname", "customer",
        "client", "contactname", "contact", "customerfullname", "nameoncustomer",
    ),
    "first_name": ("firstname", "first", "givenname", "clientfirstname", "customerfirstname"),
    "last_name": (
        "lastname", "last", "surname", "familyname", "clientlastname", "customerlastname",
    ),
    "email": (
        "email", "emailaddress", "emails", "mainemail", "primaryemail", "customeremail",
        "clientemail", "contactemail", "emailaddresses", "workemail", "personalemail",
    ),
    "phone": (
        "phone", "phonenumber", "mainphone", "mainphones", "homephone", "telephone", "tel",
        "primaryphone", "phonenumbers", "workphone", "customerphone", "clientphone",
        "businessphone", "phone1",
    ),
    "mobile": (
        "mobile", "mobilephone", "mobilephones", "cell", "cellphone", "mobilenumber",
        "cellnumber", "phone2",
    ),
    "phone_extension": ("ext", "extension", "phoneext", "phoneextension", "workphoneext"),
    "address": (
        "address", "street", "streetaddress", "address1", "addressline1", "billingaddress",
        "billingstreet", "billingstreet1", "serviceaddress", "servicestreet", "street1",
        "billtoaddress", "billingaddressline1", "serviceaddressline1", "propertyaddress",
        "mailingstreet", "mailingaddress",
    ),
    "city": ("city", "billingcity", "servicecity", "town", "mailingcity", "propertycity"),
    "state": (
        "state", "province", "billingstate", "servicestate", "stateprovince", "region",
        "mailingstate", "propertystate",
    ),
    "zip_code": (
        "zip", "zipcode", "postalcode", "postcode", "billingzip", "billingzipcode",
        "billingpostalcode", "servicezip", "servicezipcode", "mailingzip",
        "mailingpostalcode", "propertyzip", "zippostalcode",
    ),
    "notes": ("notes", "note", "comments", "comment", "customernotes", "clientnotes"),
    "marketing_permission": (
        "marketingpermission", "emailoptin", "optin", "acceptsmarketing",
        "acceptsemailmarketing", "marketingoptin", "subscribed", "emailmarketing",
        "emailsubscriptionstatus", "marketingemails",
    ),
    "marketing_permission_date": (
        "marketingpermissiondate", "optindate", "subscribedate", "optintime",
        "emailoptindate", "consentdate",
    ),
    "marketing_permission_source": (
        "marketingpermissionsource", "optinsource", "emailoptinsource", "subscribesource",
        "consentsource", "leadsource",
    ),
    "external_id": (
        "externalid", "customerid", "clientid", "customernumber", "accountnumber",
        "customerno", "clientnumber", "id", "contactid", "recordid",
    ),
    "job_external_id": (
        "jobexternalid", "jobid", "jobnumber", "invoicenumber", "invoiceno", "invoice",
        "invoiceid", "workorder", "workordernumber", "ordernumber", "num", "jobno",
    ),
    "job_date": (
        "jobdate", "date", "invoicedate", "servicedate", "completeddate", "completiondate",
        "jobcompleted", "transactiondate", "completedon", "jobcompletiondate",
    ),
    "job_amount": (
        "jobamount", "jobvalue", "amount", "total", "jobtotal", "invoicetotal", "value",
        "revenue", "totalamount", "invoiceamount", "jobrevenue", "totalprice",
    ),
    "job_description": (
        "jobdescription", "description", "jobsummary", "summary", "service", "jobtitle",
        "jobname", "worktype", "lineitems", "servicedescription",
    ),
    "job_trade": ("jobtrade", "trade", "businessunit", "jobcategory", "category", "jobtype"),
}  # fmt: skip
# Referral's own labels (its export's header) are known names too.
_FIELD_BY_HEADER = {header_key(label): name for name, label in FIELDS.items()} | {
    name: f for f, names in HEADER_NAMES.items() for name in names
}


def propose_mapping(columns: list[str], remembered: dict[str, str] | None = None) -> dict[str, str]:
    """Referral field -> column: the business's last mapping where its columns
    are in this file, then the header names other tools use."""
    mapping: dict[str, str] = {}
    for name, column in (remembered or {}).items():
        if name in FIELDS and column in columns and column not in mapping.values():
            mapping[name] = column
    for column in columns:
        name = _FIELD_BY_HEADER.get(header_key(column))
        if name and name not in mapping and column not in mapping.values():
            mapping[name] = column
    if "name" in mapping and ("first_name" in mapping or "last_name" in mapping):
        mapping.pop("first_name", None)
        mapping.pop("last_name", None)
    return mapping


def check_mapping(mapping: dict[str, str], columns: list[str]) -> dict[str, list[str]]:
    """What is wrong with a mapping, by field ({} when it can be imported)."""
    errors: dict[str, list[str]] = {}
    used: dict[str, str] = {}
    for name, column in mapping.items():
        if name not in FIELDS:
            errors.setdefault("mapping", []).append(f"Referral has no field {name!r}.")
        elif column not in columns:
            errors.setdefault(name, []).append(f"The file has no column {column!r}.")
        elif column in used:
            errors.setdefault(name, []).append(
                f"The column {column!r} is already mapped to {FIELDS[used[column]]}."
            )
        else:
            used[column] = name
    if not {"name", "first_name", "last_name"} & mapping.keys():
        errors.setdefault("name", []).append("Map a column to Name (or to First and Last name).")
    if not {"email", "phone", "mobile", "external_id"} & mapping.keys():
        errors.setdefault("email", []).append(
            "Map a column to Email or Phone: customers are matched by them."
        )
    job = set(JOB_FIELDS) & mapping.keys()
    for needed in ("job_date", "job_amount"):
        if job and needed not in mapping:
            errors.setdefault(needed, []).append(
                f"A job needs its {FIELDS[needed].lower()}: map a column to it, "
                "or map no job fields."
            )
    return errors


# --- One row's cells as a customer and a job -----------------------------------------------

CUSTOMER_FIELDS = (
    "name", "email", "phone", "phone_extension", "mobile", "address", "city", "state",
    "zip_code", "notes", "external_id", "marketing_permission", "marketing_permission_date",
    "marketing_permission_source",
)  # fmt: skip
LIMITS = {
    "name": 120, "email": 254, "address": 255, "city": 80, "state": 40, "notes": 10_000,
    "external_id": 64, "marketing_permission_source": 120, "job_external_id": 64,
    "job_description": 500, "job_trade": 60,
}  # fmt: skip
_email = ma.fields.Email()
YES = {"yes", "y", "true", "1", "subscribed", "opted in", "optedin", "opt-in", "granted", "x"}
NO = {"no", "n", "false", "0", "unsubscribed", "opted out", "optedout", "opt-out", "refused"}
UNKNOWN = {"unknown", "not asked", "?"}
EXCEL_EPOCH = dt.date(1899, 12, 30)


@dataclass
class Options:
    """How cells are read, chosen by the user (or detected)."""

    delimiter: str = ","
    fix_zip_zeros: bool = False


@dataclass
class ParsedRow:
    line: int
    customer: dict[str, Any] = field(default_factory=dict)  # only the cells given
    job: dict[str, Any] | None = None
    errors: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def error(self, name: str, message: str) -> None:
        self.errors.setdefault(name, []).append(message)


def parse_date(text: str) -> dt.date | None:
    """ISO (2025-03-02), US (3/2/2025, 3/2/25), day-first with dots (02.03.2025)
    or an Excel serial number (45718); None when it is none of those."""
    text = text.strip()
    try:
        if re.fullmatch(r"\d{4}-\d{1,2}-\d{1,2}([T ].*)?", text):
            return dt.date.fromisoformat("-".join(p.zfill(2) for p in text[:10].split("-")))
        if m := re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{2}|\d{4})( .*)?", text):
            year = int(m[3]) + (2000 if len(m[3]) == 2 else 0)
            return dt.date(year, int(m[1]), int(m[2]))
        if m := re.fullmatch(r"(\d{1,2})\.(\d{1,2})\.(\d{4})", text):
            return dt.date(int(m[3]), int(m[2]), int(m[1]))
        if re.fullmatch(r"\d{5}", text) and 20_000 <= int(text) <= 80_000:
            return EXCEL_EPOCH + dt.timedelta(days=int(text))
    except ValueError:
        return None
    return None


def parse_job_value(text: str, *, delimiter: str) -> int:
    """A job's value in cents: "$4,250.00", "4250", or "4.250,00" in a semicolon
    file (where a comma is the decimal mark). ValidationError when it is not an
    amount, negative or implausibly large. The one place import money is read."""
    cleaned = text.strip().replace(" ", "").replace("\u00a0", "")
    if cleaned.startswith("-") or (cleaned.startswith("(") and cleaned.endswith(")")):
        raise ma.ValidationError(
            "A job's value cannot be negative: leave refunds and credits out of the import."
        )
    if delimiter == ";" and re.fullmatch(
        r"\$?\d{1,3}(\.\d{3})*(,\d{1,2})?|\$?\d+(,\d{1,2})?", cleaned
    ):
        cleaned = cleaned.replace(".", "").replace(",", ".")
    cents = parse_amount(cleaned)
    if cents is None:
        raise ma.ValidationError(
            f"{text.strip()!r} is not an amount: write it as 4250, 4250.00 or $4,250.00."
        )
    if cents > MAX_JOB_CENTS:
        raise ma.ValidationError("That amount is too large.")
    return cents


def _phone(value: str, row: ParsedRow, name: str) -> tuple[str, str]:
    number, extension = split_extension(value)
    try:
        parsed = phonenumbers.parse(number, "US")
    except phonenumbers.NumberParseException:
        parsed = None
    if parsed is None or not phonenumbers.is_valid_number(parsed):
        row.error(name, f"{value!r} is not a valid phone number.")
        return "", ""
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164), extension


def _zip(value: str, row: ParsedRow, options: Options) -> str:
    digits = value.split("-")[0].strip() if re.fullmatch(r"\d{5}-\d{4}", value) else value
    if re.fullmatch(r"\d{3,4}", digits):
        padded = digits.zfill(5)
        if not options.fix_zip_zeros:
            row.error(
                "zip_code",
                f"ZIP {digits!r} has {len(digits)} digits: a spreadsheet probably dropped its "
                f"leading zero ({padded}). Choose 'Put back leading zeros' to fix it.",
            )
            return ""
        digits = padded
    if locate_zip(digits) is None:
        row.error("zip_code", f"Unknown ZIP code {value!r}: enter a five-digit US ZIP code.")
        return ""
    return digits


def parse_row(line: int, cells: dict[str, str], options: Options) -> ParsedRow:
    """A row's cells (Referral field -> text) as customer values and a job.
    Blank cells are left out: they never clear what a customer has."""
    row = ParsedRow(line=line)
    values = {name: restored(text.strip()) for name, text in cells.items() if text and text.strip()}
    for name, limit in LIMITS.items():
        if len(values.get(name, "")) > limit:
            row.error(name, f"Use at most {limit} characters (this has {len(values[name])}).")
            values.pop(name)
    customer = row.customer
    name = values.get("name") or " ".join(
        part for part in (values.get("first_name"), values.get("last_name")) if part
    )
    if name:
        customer["name"] = name[:120] if len(name) > 120 else name
        if len(name) > 120:
            row.error("name", "Use at most 120 characters for the name.")
    if "email" in values:
        try:
            customer["email"] = _email.deserialize(values["email"]).lower()
        except ma.ValidationError:
            row.error("email", f"{values['email']!r} is not a valid email address.")
    for phone_field in ("phone", "mobile"):
        if phone_field in values:
            number, extension = _phone(values[phone_field], row, phone_field)
            if number:
                customer[phone_field] = number
            if extension and phone_field == "phone":
                customer["phone_extension"] = extension
    if "phone_extension" in values:
        extension = re.sub(r"^(ext\.?|x)\s*", "", values["phone_extension"], flags=re.I)
        if re.fullmatch(r"\d{1,10}", extension):
            customer["phone_extension"] = extension
        else:
            row.error("phone_extension", f"{values['phone_extension']!r} is not an extension.")
    for text_field in ("address", "city", "state", "notes", "external_id"):
        if text_field in values:
            customer[text_field] = values[text_field]
    if "zip_code" in values and (zip_code := _zip(values["zip_code"], row, options)):
        customer["zip_code"] = zip_code
    _marketing(values, row)
    if not customer.get("name") and "name" not in row.errors:
        row.error("name", "The customer's name is blank.")
    if not ({"email", "phone", "mobile", "external_id"} & customer.keys()) and not (
        {"email", "phone", "mobile"} & row.errors.keys()
    ):
        row.error("email", "Give an email address or a phone number.")
    if any(name in values for name in JOB_FIELDS):
        row.job = _job(values, row, options)
    return row


def _marketing(values: dict[str, str], row: ParsedRow) -> None:
    if "marketing_permission" in values:
        answer = values["marketing_permission"].lower()
        if answer in UNKNOWN:
            pass  # not asked: what the customer has stays
        elif answer in YES:
            row.customer["marketing_permission"] = MarketingPermission.GRANTED
        elif answer in NO:
            row.customer["marketing_permission"] = MarketingPermission.REFUSED
        else:
            row.error(
                "marketing_permission", f"{values['marketing_permission']!r}: write yes or no."
            )
    if "marketing_permission_date" in values:
        when = parse_date(values["marketing_permission_date"])
        if when is None:
            row.error("marketing_permission_date", _date_error(values["marketing_permission_date"]))
        else:
            row.customer["marketing_permission_date"] = when
    if "marketing_permission_source" in values:
        row.customer["marketing_permission_source"] = values["marketing_permission_source"]


def _date_error(text: str) -> str:
    return f"{text!r} is not a date: write 2025-03-02, 3/2/2025 or an Excel date."


def _job(values: dict[str, str], row: ParsedRow, options: Options) -> dict[str, Any] | None:
    job: dict[str, Any] = {
        "external_id": values.get("job_external_id", ""),
        "description": values.get("job_description", ""),
        "trade": values.get("job_trade", ""),
    }
    when = parse_date(values.get("job_date", ""))
    if when is None:
        row.error(
            "job_date",
            _date_error(values.get("job_date", ""))
            if values.get("job_date")
            else "The job's date is blank.",
        )
    elif when > dt.date.today() + dt.timedelta(days=1):
        row.error("job_date", "A past job cannot be in the future.")
    else:
        job["job_date"] = when
    if not values.get("job_amount"):
        row.error("job_amount", "The job's value is blank.")
    else:
        try:
            job["amount_cents"] = parse_job_value(values["job_amount"], delimiter=options.delimiter)
        except ma.ValidationError as error:
            row.errors.setdefault("job_amount", []).extend(error.messages)  # type: ignore[arg-type]
    return job if {"job_date", "amount_cents"} <= job.keys() else None


def job_key(job: dict[str, Any]) -> tuple[Any, ...]:
    """What makes a job the same job for one customer."""
    if job.get("external_id"):
        return ("id", job["external_id"])
    return ("same", job["job_date"], job["amount_cents"], job.get("description", ""))
