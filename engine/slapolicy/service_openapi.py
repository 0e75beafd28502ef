"""The OpenAPI 3.1 document of ``slapolicy serve``: every route, body and answer.

The request schemas here are also what the service checks bodies against (a body of the
wrong shape is a 400), so the document cannot drift from the service.
"""
from __future__ import annotations

import copy

from .claims.materials import CLAIM_FIELD_TYPES, REQUIRED_CLAIM_FIELDS

MONTH = {"type": "string", "pattern": "^[0-9]{4}-(0[1-9]|1[0-2])$", "examples": ["2019-03"]}
DATE = {"type": "string", "format": "date", "examples": ["2019-03-17"]}
MONEY = {"type": ["string", "null"], "pattern": "^-?[0-9]+\\.[0-9]{2}$", "examples": ["180.00"]}
# An account is named by text; a whole number is read as its digits ("account": 1000 is account "1000"), as a JSON
# Lines or Parquet file's are. Any other number (1000.0, 1e3) or true/false is a 400 naming the field, as such a
# file column is refused: JSON readers differ on what text such a number has, and the account would not match.
ACCOUNT = {"type": ["string", "integer", "null"],
           "description": "the account's name; a whole number is read as its digits, as in a JSON Lines file"}
ROWS = {"type": "array", "items": {"type": "object", "properties": {"account": ACCOUNT}}}
LEFT_OUT = "null means the same as leaving the field out"


def optional(schema: dict) -> dict:
    """An optional field of a request body: JSON clients send null for a field they do not set, so null is taken
    for every optional field, and means the same as leaving it out (docs/service.md)."""
    types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
    description = schema.get("description", "")
    return schema | {"type": types + ["null"] * ("null" not in types),
                     "description": f"{description}; {LEFT_OUT}" if description else LEFT_OUT}


def _claim_schema() -> dict:
    """The claim as `slapolicy claim` reads CLAIM.json: its fields and their JSON types come from the claim's own
    table (:data:`slapolicy.claims.materials.CLAIM_FIELD_TYPES`), so the document says what the engine takes."""
    described = {
        "service_month": MONTH,
        "filed_at": {"description": "ISO 8601, with or without an offset (the policy's timezone)"},
        "channel": {"description": "work_order for the agreed channel (§3.2(1))"},
        "event_report": {"description": "the event description report (§3.3); a claim without it is decided "
                                        "incomplete"},
        "unavailability": {"items": {"type": "object", "required": ["start", "end"], "additionalProperties": False,
                                     "properties": {"start": {"type": "string"}, "end": {"type": "string"}, "note": {}}},
                           "description": "the date, time and duration of the unavailability (§3.3); a claim "
                                          "without it is decided incomplete"},
        "failure_records": {"items": {"type": ["string", "object"]},
                            "description": "service records of failed calls: record ids or records (§3.3)"},
        "term_start": DATE, "term_end": DATE,
    }
    properties = {}
    for name, types in CLAIM_FIELD_TYPES.items():
        schema = described.get(name, {}) | {"type": types[0] if len(types) == 1 else list(types)}
        if name not in REQUIRED_CLAIM_FIELDS:
            schema = optional(schema | {"type": [t for t in types if t != "null"]})
        properties[name] = schema
    return {
        "type": "object",
        "description": "A compensation claim, as CLAIM.json of `slapolicy claim`, checked by the engine as the CLI "
                       "checks the file: a field missing, of the wrong JSON type, unknown or of a wrong value is a 422 "
                       "with the message `slapolicy claim` prints (its exit 1).",
        "required": list(REQUIRED_CLAIM_FIELDS),
        "additionalProperties": False,
        "properties": properties,
    }


REQUEST_SCHEMAS = {
    "EvaluateRequest": {
        "type": "object",
        "description": "A Service Month to evaluate. Minutes, incidents, notices and billing default to the files "
                       "the service was started with; small data may be sent inline instead (the same columns as "
                       "the files: docs/service.md). Every field but month may be left out or null, which means "
                       "the same.",
        "required": ["month"],
        "additionalProperties": False,
        "properties": {
            "month": MONTH | {"description": "the Service Month, YYYY-MM"},
            "accounts": optional({"type": "array", "items": {"type": ["string", "integer"], "description": ACCOUNT["description"]},
                                  "description": "only these accounts"}),
            "policy_version": optional({"type": "string", "description": "evaluate under this published version "
                                                                         "instead of the one in force (its version label)"}),
            "term_start": optional(DATE | {"description": "first day of the service term (a partial first month)"}),
            "term_end": optional(DATE | {"description": "last day of the service term (a partial last month)"}),
            "minutes": optional(ROWS | {"description": "rows {account, minute, requests, failures, "
                                                       "illegal_number_failures?, peak_qps?}"}),
            "incidents": optional(ROWS | {"description": "{id, start, end, cause, account?, description?}"}),
            "notices": optional(ROWS | {"description": "{id, kind, published_at, start, end, account?, description?}"}),
            "billing": optional(ROWS | {"description": "rows {account, month, monthly_fee, offset}"}),
        },
    },
    "ReplayRequest": {
        "type": "object",
        "description": "Replay Service Months under another version, from the minutes the service was started with.",
        "required": ["from", "to", "under"],
        "additionalProperties": False,
        "properties": {
            "from": MONTH | {"description": "first Service Month"},
            "to": MONTH | {"description": "last Service Month"},
            "under": {"type": "string", "pattern": "^[^./\\\\\\x00-\\x1f\\x7f][^/\\\\\\x00-\\x1f\\x7f]*\\.yaml$",
                      "examples": ["2027-01-01-standard-99.95.yaml"],
                      "description": "the file name of a draft in the policy directory's drafts/ (or of a published "
                                     "version); never a path"},
        },
    },
    "Claim": _claim_schema(),
}

POLICY_REF = {"type": "object", "required": ["id", "version", "sha256"],
              "properties": {"id": {"type": "string"}, "version": {"type": "string"}, "sha256": {"type": "string"}}}

EVALUATION = {
    "type": "object",
    "required": ["account", "service_month", "policy", "availability_percent", "meets_standard", "credit_percent",
                 "trace"],
    "properties": {
        "account": {"type": "string"},
        "service_month": {"type": "object"},
        "policy": POLICY_REF,
        "minutes_with_data": {"type": "integer"},
        "raw_unavailable_minutes": {"type": "integer",
                                    "description": "the minutes below the threshold (§1.5), before any exclusion"},
        "unavailable_minutes": {"type": "integer",
                                "description": "raw_unavailable_minutes less the excluded: counted against the provider"},
        "excluded_minutes": {"type": "object", "additionalProperties": {"type": "integer"}},
        "availability_percent": {"type": "string"},
        "availability_exact": {"type": "string", "description": "the exact fraction (total − unavailable)/total",
                               "examples": ["44355/44640"]},
        "meets_standard": {"type": "boolean"},
        "credit_percent": {"type": "number"},
        "monthly_fee": MONEY,
        "compensation": MONEY,
        "before_aggregate_cap": {"type": "string", "description": "a reminder that compensation is before the §6.1 "
                                                                  "aggregate cap, which only a claim applies"},
        "trace": {"type": "array", "items": {"type": "object", "properties": {
            "step": {"type": "string"}, "clause": {"type": "string"}, "detail": {"type": "string"}}}},
        "warnings": {"type": "array", "description": "what someone should look at (docs/readings.md): "
                                                    "no_minutes_with_data, provider_incident_without_data (20 at "
                                                    "most), provider_incidents_without_data, ...",
                     "items": {"type": "object", "required": ["code", "clause", "message"], "properties": {
                         "code": {"type": "string"}, "clause": {"type": "string"}, "message": {"type": "string"}},
                         # each code adds its own figures (minutes, incident, ...): docs/readings.md
                         "additionalProperties": True}},
    },
}

DECISION = {
    "type": "object",
    "required": ["decision_id", "decision", "reasons", "window", "evaluation", "compensation"],
    "properties": {
        "decision_id": {"type": "string", "pattern": "^D-[0-9a-f]{20}$"},
        "decision": {"type": "string", "enum": ["approved", "denied", "incomplete"]},
        "reasons": {"type": "array", "items": {"type": "object", "properties": {
            "code": {"type": "string"}, "clause": {"type": "string"}, "message": {"type": "string"},
            "field": {"type": "string", "description": "the claim's field a material missing is given in "
                                                       "(missing_materials only)"}}}},
        "message": {"type": ["string", "null"],
                    "description": "the compensation granted, in a sentence for the customer; null unless approved"},
        "account": {"type": "string"},
        "service_month": MONTH,
        "filed_at": {"type": "string", "description": "ISO 8601 with offset, as the claim gives it"},
        "decided_at": {"type": "string", "description": "when it was decided, in UTC (docs/ledger.md)"},
        "window": {"type": "object", "description": "the filing window (§3.2): docs/cli.md", "properties": {
            "opens": {"type": "string"}, "closes": {"type": "string"},
            "last_day": {"type": "string", "description": "the last calendar day a claim may be filed"},
            "after_business_day": {"type": "string",
                                   "description": "the business day after which the window opens"},
            "holidays_skipped": {"type": "array", "items": {"type": "object", "properties": {
                "date": {"type": "string"}, "name": {"type": "string"}}}}}},
        "policy": POLICY_REF,
        "evaluation": EVALUATION,
        "compensation": MONEY,
        "compensation_detail": {"type": ["object", "null"],
                                "description": "the month's compensation and the §6.1 aggregate cap's basis "
                                               "(aggregate_cap): docs/cli.md; null when the standard is met or the "
                                               "month was compensated before"},
        "reconciliation": {"type": "object", "description": "the unavailability the claim states against the "
                                                            "provider's records (§3.2(1)): docs/readings.md"},
        "inputs_digest": {"type": "string", "description": "sha256 over the version, the inputs and the claim, as "
                                                           "the ledger records them"},
        "repeated": {"type": "boolean", "description": "true when the same claim was decided before"},
    },
}

# Every kind of problem the service answers (docs/service.md, "Errors"), its own and those of what uvicorn answers
# itself (a request too slow, not HTTP, beyond the connections).
PROBLEM_KINDS = ("bad-request", "not-found", "no-version-in-force", "method-not-allowed", "request-timeout",
                 "not-configured", "too-large", "unsupported-media-type", "misdirected", "invalid-input", "policy-error",
                 "internal-error", "scheduler-unavailable", "too-many-connections", "limit-reached", "stopping",
                 "client-closed-request", "workers-lost")

PROBLEM = {
    "type": "object",
    "description": "RFC 9457 problem details; `detail` is the message the CLI prints.",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "format": "uri",
                 "description": "urn:slapolicy:problem: " + ", ".join(PROBLEM_KINDS)},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string", "format": "uri-reference",
                     "description": "the request's path as the client sent it (percent-encoded)"},
        "diagnostics": {"type": "array", "items": {"type": "object"},
                        "description": "for policy-error: every diagnostic {file, line, col, severity, code, message}"},
    },
}

ERRORS = {
    "400": "the request is malformed: not JSON, not an object, in an evaluate or replay body a field of the wrong "
           "JSON type or an unknown field (the CLI's usage error, exit 2), an unknown or repeated query parameter, a "
           "path where a file name belongs; on any route, a request that is not HTTP/1.1 that can be read, or that "
           "gives both Content-Length and Transfer-Encoding (the connection is closed), or a request target in "
           "absolute form naming no host or a user; a Content-Type given twice with values that differ",
    "404": "no such decision, draft, published version, route; or no version in force for the month",
    "409": "the service was not started with the data the request needs (--minutes; for a claim of a month owed "
           "compensation, --billing)",
    "413": "the request body is larger than the limit (--max-body)",
    "415": "the request body is not declared Content-Type: application/json, or is sent compressed (Content-Encoding)",
    "422": "the input or the policy is wrong (the CLI's exit 1), with the CLI's message; anything wrong in a claim "
           "(a field missing, of the wrong JSON type, unknown or of a wrong value); a ledger that cannot be used or whose "
           "chain does not hold (docs/ledger.md)",
    "408": "the request did not arrive whole within --request-timeout seconds (the connection is closed)",
    "421": "on a loopback address (the default), the request's Host is not this machine; checked before anything else",
    "499": "the client closed the connection before its request was read whole, or before its turn came (nothing "
           "was run): nobody reads this answer; it is what a log of the answers records",
    "500": "an internal error (the CLI's exit 3): please report it",
    "503": "the request came on a connection beyond --max-connections (the connection is closed); with --dask, the "
           "Dask scheduler was lost or cannot be reached again, or, connecting again, finds no worker or a worker "
           "without this version of slapolicy (the next request connects again); the memory, threads or open files "
           "the process may use are used up (limit-reached); the service was stopped at once (a second Ctrl-C) "
           "before it answered (stopping); the --workers processes, or the Dask workers, running the work ended "
           "under it (workers-lost). Each says Retry-After: 1 (seconds)",
}
# What any request may be answered, whatever its route: by the server before the route is found (too slow, too many
# connections), or by the Host check that comes first.
EVERY_ROUTE = ("400", "408", "421", "503")


def _json(schema: dict | str, description: str) -> dict:
    ref = {"$ref": f"#/components/schemas/{schema}"} if isinstance(schema, str) else schema
    return {"description": description, "content": {"application/json": {"schema": ref}}}


def _errors(*codes: str) -> dict:
    problem = {"$ref": "#/components/schemas/Problem"}
    return {code: {"description": ERRORS[code], "content": {"application/problem+json": {"schema": problem}}}
            for code in sorted(set(codes) | set(EVERY_ROUTE))}


def _body(schema: str, description: str) -> dict:
    return {"required": True, "description": description,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}


def _head(get: dict) -> dict:
    """The HEAD of a GET operation: the same answers, their headers without a body."""
    responses = {code: {"description": answer["description"]} for code, answer in get["responses"].items()}
    head = {"operationId": get["operationId"] + "Head", "summary": f"{get['summary']}: the headers alone (HEAD)",
            "responses": responses}
    return head | {"parameters": copy.deepcopy(get["parameters"])} if "parameters" in get else head


def document() -> dict:
    """The OpenAPI 3.1 document (a fresh copy: callers may change it)."""
    from . import __version__

    paths = {
        "/v1/health": {"get": {
            "operationId": "health", "summary": "the service is up, and how many versions it has loaded",
            "responses": {"200": _json({"type": "object", "properties": {
                "status": {"const": "ok"}, "engine": {"type": "string"}, "versions": {"type": "integer"},
                "started_at": {"type": "string"}}}, "up"), **_errors("400", "500")}}},
        "/v1/versions": {"get": {
            "operationId": "versions", "summary": "the published versions loaded now, with their sha256",
            "responses": {"200": _json({"type": "object", "properties": {
                "policy_dir": {"type": "string", "description": "the policy directory's own name (ccc), never where "
                                                               "the server keeps it"},
                "versions": {"type": "array", "items": {"type": "object", "properties": {
                    "version": {"type": "string"}, "effective_from": {"type": "string"}, "sha256": {"type": "string"},
                    "file": {"type": "string"}}}},
                "refresh_error": {"type": ["string", "null"],
                                  "description": "why the directory as it is now could not be loaded (the versions "
                                                 "above are still served)"}}}, "loaded versions"),
                **_errors("400", "500")}}},
        "/v1/policy": {"get": {
            "operationId": "policy", "summary": "the version in force for a Service Month, and its terms (§6.2)",
            "parameters": [{"name": "month", "in": "query", "required": True, "schema": MONTH}],
            "responses": {"200": _json({"type": "object", "properties": {
                "month": {"type": "string"}, "policy": {"type": "object"}, "timezone": {"type": "string"},
                "standard": {"type": "object"}, "minute_unavailable_below": {"type": "string"},
                "gate": {"type": ["string", "null"]},
                "tiers": {"type": "array"}, "clauses": {"type": "array"}, "document": {"type": "object"}}},
                "as `slapolicy show --json`"), **_errors("400", "404", "422", "500")}}},
        "/v1/evaluate": {"post": {
            "operationId": "evaluate", "summary": "evaluate a Service Month, as `slapolicy evaluate`",
            "requestBody": _body("EvaluateRequest", "the month, and optionally accounts, a version, inline data"),
            "responses": {"200": _json({"type": "object", "required": ["evaluations"], "properties": {
                "evaluations": {"type": "array", "items": {"$ref": "#/components/schemas/Evaluation"}}}},
                "one evaluation per account"), **_errors("400", "404", "409", "413", "415", "422", "499", "500", "503")}}},
        "/v1/claims": {"post": {
            "operationId": "decideClaim", "summary": "decide a claim and record it in the ledger, as `slapolicy claim`",
            "requestBody": _body("Claim", "the claim"),
            "responses": {"201": _json("Decision", "decided now and recorded") | {"headers": {"Location": {
                              "description": "the recorded decision's own address, /v1/claims/{decision_id}",
                              "schema": {"type": "string", "examples": ["/v1/claims/D-e67e91136ec38743702c"]}}}},
                          "200": _json("Decision", "the same claim was decided before: that decision"),
                          **_errors("400", "404", "409", "413", "415", "422", "499", "500", "503")}}},
        "/v1/claims/{decision_id}": {"get": {
            "operationId": "claim", "summary": "a recorded decision",
            "parameters": [{"name": "decision_id", "in": "path", "required": True,
                            "schema": {"type": "string", "pattern": "^D-[0-9a-f]{20}$"}}],
            "responses": {"200": _json("Decision", "as recorded"), **_errors("400", "404", "422", "500")}}},
        "/v1/replay": {"post": {
            "operationId": "replay", "summary": "replay Service Months under a draft, as `slapolicy replay`",
            "requestBody": _body("ReplayRequest", "the months and the draft's file name"),
            "responses": {"200": _json({"type": "object", "required": ["under", "rows", "totals"], "properties": {
                "under": {"type": "object", "required": ["id", "version", "sha256", "file"], "properties": {
                    "id": {"type": "string"}, "version": {"type": "string"}, "sha256": {"type": "string"},
                    "file": {"type": "string", "description": "the file replayed under, within the policy directory: "
                                                              "drafts/NAME.yaml, or NAME.yaml for a published version "
                                                              "(never where the server keeps it)",
                             "examples": ["drafts/2027-01-01-standard-99.95.yaml"]}}},
                "months": {"type": "array", "items": MONTH},
                "rows_read": {"type": "integer", "description": "the minute rows read"},
                "parts_read": {"type": "integer", "description": "the parts of the minutes read (files, row groups)"},
                "rows": {"type": "array", "items": {"type": "object"}}, "totals": {"type": "object"},
                "before_aggregate_cap": {"type": "string"},
                "nothing_to_replay": {"type": "string", "description": "only when no account has minutes or billing "
                                      "in the months: says so, and what the minutes hold instead"},
                "not_replayed": {"type": "array", "items": {"type": "object"},
                                 "description": "only when the amendment changes terms a replay does not decide (the "
                                                "claims' terms, §3.2, §3.3, and the §6.1 aggregate cap): each change, "
                                                "{what, ref, kind, old, new, against}, against the "
                                                "baseline versions it is a change against"},
                "not_replayed_note": {"type": "string", "description": "with not_replayed: that its rows and totals do "
                                                                       "not show those changes"}}},
                "per account and month, with totals"), **_errors("400", "404", "409", "413", "415", "422", "499", "500", "503")}}},
        "/openapi.json": {"get": {
            "operationId": "openapi", "summary": "this document",
            "responses": {"200": _json({"type": "object"}, "OpenAPI 3.1"), **_errors("400")}}},
    }
    for item in paths.values():
        if "get" in item:  # Starlette answers HEAD wherever it answers GET
            item["head"] = _head(item["get"])
    return {
        "openapi": "3.1.0",
        "info": {"title": "slapolicy", "version": __version__,
                 "description": "SLA policies evaluated over HTTP: the JSON of the slapolicy CLI, errors as RFC 9457 "
                                "problem details carrying the CLI's messages."},
        "paths": paths,
        "components": {"schemas": copy.deepcopy({**REQUEST_SCHEMAS, "Evaluation": EVALUATION,
                                                 "Decision": DECISION, "Problem": PROBLEM})},
    }
