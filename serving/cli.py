"""``openledger serve``: the OpenLoRA service, OpenAI-compatible, paid on-chain.

torch and transformers load only when the command runs, so other subcommands stay quick.
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

OPERATOR_KEY_ENV = "OPENLEDGER_OPERATOR_KEY"


def register_serve(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "serve", help="serve a base model and its on-chain LoRA adapters over an OpenAI-style API"
    )
    parser.add_argument(
        "--base-model", help="directory or model name for from_pretrained (--demo: tiny local)"
    )
    parser.add_argument("--rpc", required=True, help="L2 JSON-RPC URL")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument(
        "--dtype", default="auto", choices=["auto", "float32", "float16", "bfloat16"]
    )
    parser.add_argument(
        "--max-active-adapters", type=int, default=8, help="adapters in device memory at once"
    )
    parser.add_argument("--max-host-adapters", type=int, default=64, help="adapters in host memory")
    parser.add_argument("--max-batch-size", type=int, default=64, help="sequences per step")
    parser.add_argument("--max-rank", type=int, default=64, help="largest LoRA rank served")
    parser.add_argument(
        "--threads",
        type=int,
        help="torch intra-op threads (default: CPUs - 1 on the CPU, leaving one for HTTP; "
        "torch's own on CUDA)",
    )
    parser.add_argument(
        "--data-dir", type=Path, default=Path("ai-data"), help="adapter store and billing records"
    )
    parser.add_argument(
        "--operator-key", help=f"operator private key (or ${OPERATOR_KEY_ENV}; --demo: dev 9)"
    )
    parser.add_argument("--contracts", type=Path, help="contracts.json (default: ask the node)")
    parser.add_argument("--base-model-id", type=int, help="ModelRegistry id of the base model")
    parser.add_argument("--admin-key", help="bearer key required for adapter uploads")
    parser.add_argument(
        "--attribution-device",
        default="cpu",
        choices=["cpu", "cuda"],
        help="where Proof of Attribution builds features and scores answers (default cpu: it "
        "runs beside serving, off the request path)",
    )
    parser.add_argument(
        "--demo",
        action="store_true",
        help="devnet: build the tiny model, register demo adapters, fund a demo API key",
    )
    parser.set_defaults(handler=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from serving.service import ServiceConfig, build_service

    base_model = args.base_model
    operator_key = args.operator_key or os.environ.get(OPERATOR_KEY_ENV)
    banner = ""
    if args.demo:
        from serving.demo import prepare_demo

        demo = prepare_demo(args.rpc, args.contracts, args.data_dir)
        base_model = base_model or demo.base_model
        operator_key = operator_key or demo.operator_key
        banner = demo_banner(args, demo)
    if not base_model or not operator_key:
        raise SystemExit("openledger serve needs --base-model and --operator-key (or --demo)")
    limits = {} if args.admin_key is None else {"admin_key": args.admin_key}
    service = build_service(
        ServiceConfig(
            base_model=base_model,
            rpc_url=args.rpc,
            data_dir=args.data_dir,
            operator_key=operator_key,
            deployment=args.contracts,
            base_model_id=args.base_model_id,
            device=args.device,
            dtype=args.dtype,
            max_active_adapters=args.max_active_adapters,
            max_host_adapters=args.max_host_adapters,
            max_rank=args.max_rank,
            max_batch_size=args.max_batch_size,
            threads=args.threads,
            limits=limits,
            attribution_device=args.attribution_device,
        )
    )
    print(banner or f"OpenLoRA service on http://{args.host}:{args.port}/v1", flush=True)
    try:
        uvicorn.run(service.app, host=args.host, port=args.port, log_level="warning")
    finally:
        service.close()
    return 0


def demo_banner(args: argparse.Namespace, demo: Any) -> str:
    root = f"http://{args.host}:{args.port}"
    url = f"{root}/v1"
    lines = [
        "OpenLoRA AI service",
        f"  web page         {root}/  (Datanets, fine-tuning, chat, rewards)",
        f"  OpenAI base URL  {url}",
        f"  base model       {Path(demo.base_model).name} (ModelRegistry id {demo.base_model_id})",
        "  adapters         "
        + ", ".join(f"{name} ({card})" for name, card in demo.adapters.items()),
        f"  demo API key     {demo.api_key}",
        f"                   (a spending session of {demo.user}, prepaid on-chain)",
        "",
        "  from openai import OpenAI",
        f'  client = OpenAI(base_url="{url}", api_key=KEY)',
        '  client.completions.create(model="demo-poet", prompt="The ledger", max_tokens=16)',
        "",
        f"  openledger factory train --service {root} --api-key KEY \\",
        "      --model tiny-gpt2 --training-file datanet:1@1",
        f"  openledger attribution show RESPONSE_ID --service {root}",
    ]
    return "\n".join(lines)
