"""Presets: the customer exports of the tools the trades use most, and which
of their columns go to which of Referral's fields.

Each preset lists the export's columns as the tool writes them. A column
mapped to None is one the export has that Referral does not import (it is
still shown as "not imported" on the mapping page); it helps recognise the
file. A file is from a preset when its header has every column the preset
maps (compared without case, spaces or punctuation); the user can still
change each column, or choose "Other / my own columns".

Each preset says where its column names come from (read 2026-12). A tool can
rename its columns: a file that no longer matches falls back to the header
names reading.py knows.
"""

from __future__ import annotations

from dataclasses import dataclass

from referral.customers.reading import FIELDS, header_key


@dataclass(frozen=True)
class Preset:
    label: str
    source: str  # where the column names come from
    columns: dict[str, str | None]  # the export's column -> Referral field (None: not imported)

    @property
    def mapped(self) -> dict[str, str]:
        """Referral field -> the export's column."""
        return {name: column for column, name in self.columns.items() if name}


PRESETS: dict[str, Preset] = {
    # The client export's header was not found published (Jobber's help centre
    # documents its imports); the columns are those of Jobber's client record
    # (first/last/company name, emails, phones, billing street, city,
    # province/state, postal code: support.advancedjobberintegration.com,
    # "Understanding Client Data") under the labels Jobber's client list
    # export uses, as far as known. Not checked against a file from Jobber.
    "jobber_clients": Preset(
        label="Jobber: clients export",
        source="Jobber's client fields (support.advancedjobberintegration.com, client data)",
        columns={
            "Display Name": "name",
            "Company Name": None,
            "Title": None,
            "First Name": None,
            "Last Name": None,
            "E-mails": "email",
            "Main Phone #s": "phone",
            "Mobile Phone #s": "mobile",
            "Billing Street 1": "address",
            "Billing Street 2": None,
            "Billing City": "city",
            "Billing State": "state",
            "Billing Zip code": "zip_code",
            "Tags": None,
            "Lead Source": None,
            "Created Date": None,
        },
    ),
    # Housecall Pro, "Exported Report Breakdown" (help.housecallpro.com, article
    # 2999685): a job/invoice report with the customer's first and last name,
    # email, company, mobile and home phones and the service address split into
    # Street, Street Line 2, City, State, Zip. The page lists the invoice and
    # date columns but its amount columns were not in the published text, so
    # the preset imports customers only; map a total column to Job value (with
    # Date) to bring the jobs in too.
    "housecall_pro_customers": Preset(
        label="Housecall Pro: customers or jobs report export",
        source="help.housecallpro.com/en/articles/2999685-exported-report-breakdown",
        columns={
            "Invoice Number": None,
            "Date": None,
            "Customer": "name",
            "First Name": None,
            "Last Name": None,
            "Email": "email",
            "Company": None,
            "Mobile Phone": "mobile",
            "Home Phone": "phone",
            "Customer Tags": None,
            "Street": "address",
            "Street Line 2": None,
            "City": "city",
            "State": "state",
            "Zip": "zip_code",
        },
    ),
    # ServiceTitan publishes no customer-export header: its customer record
    # (ServiceTitan CRM API "Customer": id, name, type, address with street,
    # unit, city, state, zip; contacts of type Phone, MobilePhone, Email;
    # doNotMail; published as a JSON schema at schemas.apis.io) is what its
    # Customers report lists, under these labels. The preset is based on that
    # documented record, not on a file from ServiceTitan.
    # "Do Not Mail" is about postal mail and is not a marketing-email answer.
    "servicetitan_customers": Preset(
        label="ServiceTitan: customers export",
        source="ServiceTitan CRM API customer schema (schemas.apis.io/schemas/servicetitan)",
        columns={
            "Customer ID": "external_id",
            "Customer Name": "name",
            "Customer Type": None,
            "Street": "address",
            "Unit": None,
            "City": "city",
            "State": "state",
            "Zip": "zip_code",
            "Phone": "phone",
            "Mobile Phone": "mobile",
            "Email": "email",
            "Do Not Mail": None,
        },
    ),
    # QuickBooks Online's contact fields, as Intuit documents them for the
    # customer list ("Which contact fields are imported", QuickBooks Online
    # help: name, Company, Email, Phone, Mobile, Fax, Website, Street, City,
    # State, ZIP code, Country, Opening Balance), with "Customer" as the name
    # column of the Customer Contact List report. The report's exact default
    # columns are not published.
    "quickbooks_online_contacts": Preset(
        label="QuickBooks Online: customer contact list",
        source="QuickBooks Online help, 'Which contact fields are imported'",
        columns={
            "Customer": "name",
            "Company": None,
            "Email": "email",
            "Phone": "phone",
            "Mobile": "mobile",
            "Fax": None,
            "Website": None,
            "Street": "address",
            "City": "city",
            "State": "state",
            "ZIP code": "zip_code",
            "Country": None,
            "Notes": "notes",
        },
    ),
    # Square's customer directory export (Customers > Import / Export >
    # Export customers) and its import template: squareup.com help articles
    # 6632 "Import customers online" (the Email Subscription Status column,
    # Subscribed / Unsubscribed / Unknown) and 5498 "Manage your customer
    # directory online". Square Customer ID is the customer's stable id.
    "square_customers": Preset(
        label="Square: customers export",
        source="squareup.com/help/us/en/article/6632-import-customers-online",
        columns={
            "Reference ID": None,
            "First Name": "first_name",
            "Last Name": "last_name",
            "Email Address": "email",
            "Phone Number": "phone",
            "Company Name": None,
            "Street Address 1": "address",
            "Street Address 2": None,
            "City": "city",
            "State": "state",
            "Postal Code": "zip_code",
            "Birthday": None,
            "Memo": "notes",
            "Square Customer ID": "external_id",
            "Email Subscription Status": "marketing_permission",
        },
    ),
}
OTHER = ""  # "Other / my own columns"
assert all(name in FIELDS for preset in PRESETS.values() for name in preset.mapped)


def mapping_for(preset: Preset, columns: list[str]) -> dict[str, str]:
    """The preset's mapping for this file: Referral field -> the file's own
    spelling of the column, for the columns the file has."""
    by_key = {header_key(column): column for column in columns}
    return {
        name: by_key[header_key(column)]
        for name, column in preset.mapped.items()
        if header_key(column) in by_key
    }


def detect_preset(columns: list[str]) -> str:
    """The preset whose mapped columns are all in the header (the one that
    maps most, when several do), else OTHER."""
    keys = {header_key(column) for column in columns}
    best, best_count = OTHER, 0
    for name, preset in PRESETS.items():
        wanted = {header_key(column) for column in preset.mapped.values()}
        matched = sum(1 for column in preset.columns if header_key(column) in keys)
        if wanted <= keys and matched > best_count:
            best, best_count = name, matched
    return best
