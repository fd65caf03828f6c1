"""The limits an operator sets on the HTTP layer, in one place."""

from dataclasses import dataclass


@dataclass(frozen=True)
class ApiLimits:
    """Bounds that keep one client from exhausting the service.

    `max_model_len` has no default on purpose: it is the served model's context (prompt plus
    completion, in tokens) and a guessed value would either refuse good prompts or let the
    engine overflow its position embeddings.
    """

    max_model_len: int
    """Context of the base model in tokens; longer prompt + max_tokens is refused with 400."""
    max_body_bytes: int = 1 << 20
    """Largest JSON request body; checked before parsing (413)."""
    max_upload_bytes: int = 256 << 20
    """Largest adapter upload (the whole multipart body, 413)."""
    max_in_flight: int = 256
    """Generation requests served at once; the next one gets 429 until one finishes."""
    max_n: int = 16
    """Most choices (`n`, times the number of prompts) in one request."""
    admin_key: str | None = None
    """When set, adapter uploads need `Authorization: Bearer <admin_key>`; None leaves them open
    (a devnet). Inference keys are the cashier's business, not this one."""

    def __post_init__(self) -> None:
        for name in (
            "max_model_len",
            "max_body_bytes",
            "max_upload_bytes",
            "max_in_flight",
            "max_n",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
