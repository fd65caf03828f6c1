"""``openledger attribution show <response id>``: who was credited for one paid answer.

Asks a running AI service (``GET /v1/attribution/<response id>``), so it works against a remote
service as against a local one and loads no model. Prints the method, the settlement and each
contribution's contributor, score and weight; ``--json`` prints the service's answer as is.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import requests

DEFAULT_SERVICE = "http://127.0.0.1:8000"
NOT_FOUND = 2


def register_attribution(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "attribution", help="Proof of Attribution: how a paid answer's fee was split"
    )
    actions = parser.add_subparsers(dest="attribution_command", metavar="ACTION", required=True)
    show = actions.add_parser("show", help="the contributions credited for one response id")
    show.add_argument("response_id", help="the resp_... id of a paid answer")
    show.add_argument(
        "--service", default=DEFAULT_SERVICE, help=f"AI service URL (default {DEFAULT_SERVICE})"
    )
    show.add_argument("--json", action="store_true", help="print the report as JSON")
    show.set_defaults(handler=run_show)


def run_show(args: argparse.Namespace) -> int:
    url = f"{args.service.rstrip('/').removesuffix('/v1')}/v1/attribution/{args.response_id}"
    try:
        answer = requests.get(url, timeout=30)
    except requests.RequestException as exc:
        print(f"error: cannot reach the AI service at {args.service}: {exc}", file=sys.stderr)
        return 1
    body = (
        answer.json()
        if answer.headers.get("content-type", "").startswith("application/json")
        else {}
    )
    if answer.status_code != 200:
        message = body.get("error", {}).get("message") or answer.text
        print(f"error: {message}", file=sys.stderr)
        return NOT_FOUND if answer.status_code == 404 else 1
    print(json.dumps(body, indent=2) if args.json else render(body))
    return 0


def render(report: dict[str, Any]) -> str:
    """The report as a few lines and a table, largest weight first."""
    settlement = report["settlement"]
    lines = [
        f"response   {report['response_id']} ({report['model']}, {report['status']})",
        f"method     {report['method'] or '-'} (basis: {report['basis'] or 'not attributed yet'})",
        f"settlement {settlement['tx_hash'] or '-'}"
        + (f", inference {settlement['inference_id']}, fee {settlement['fee']} wei"
           if settlement["tx_hash"] else ""),
        "",
        f"{'contribution':>12}  {'contributor':<42}  {'score':>12}  {'weight':>9}",
    ]  # fmt: skip
    for row in report["contributions"]:
        score = "-" if row["score"] is None else f"{row['score']:.6g}"
        lines.append(
            f"{row['contribution_id']:>12}  {row['contributor']:<42}  {score:>12}  "
            f"{row['weight']:>9}"
        )
    return "\n".join(lines)
