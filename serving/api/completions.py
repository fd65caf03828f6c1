"""`POST /v1/completions` and `POST /v1/chat/completions`.

Both go the same way: validate and tokenise (400), resolve the model (404), check the context
(400), reserve the price (401/402), start one engine request per choice (choice `i` with seed
`seed + i`), then answer in one JSON object or as a stream, and finally settle: `record` the
charge after a complete answer, `cancel` it otherwise.

Response ids: a free answer's id is a `cmpl-`/`chatcmpl-` uuid; a paid one's is the id the
cashier's `record` returns, also sent in the `openledger-response-id` header. A stream must
start before the answer is recorded, so its chunks carry the provisional uuid until the end:
the closing chunks (each choice's `finish_reason` chunk, and the usage chunk) carry the final id,
and there is no header.
"""

import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import anyio
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from serving.api.context import ApiContext, bearer_token
from serving.api.errors import ApiError, to_api_error
from serving.api.generation import Choice, Generation
from serving.api.payment import Payment
from serving.api.ports import AnsweredChoice, ModelCard
from serving.api.prompts import chat_prompt, completion_budget, completion_prompts
from serving.api.responses import ChatFormat, CompletionFormat, Format, Header, Usage
from serving.api.schemas import (
    MAX_SEED,
    ChatCompletionRequest,
    CompletionRequest,
    Sampling,
    parse_body,
)
from serving.api.streaming import EventStreamResponse, sse, unless_disconnected
from serving.api.text import choice_text
from serving.engine.request import GenerationRequest, SamplingParams

RESPONSE_ID_HEADER = "openledger-response-id"


@dataclass(frozen=True)
class Plan:
    """A validated, tokenised request: what to generate, and in which format to answer."""

    request: Sampling
    body: Any
    """The JSON body as sent, for the request hash."""
    card: ModelCard
    format: Format
    prompts: list[list[int]]
    budgets: list[int]
    """Tokens to generate at most, per prompt."""


async def create_completion(request: Request) -> Response:
    started = time.monotonic()
    ctx = ApiContext.of(request)
    req, body = parse_body(await request.body(), CompletionRequest)
    card = await _resolve(ctx, request, req.model)
    prompts = completion_prompts(ctx.tokenizer, req.prompt)
    max_tokens = 16 if req.max_tokens is None else req.max_tokens
    budgets = [
        completion_budget(len(p), max_tokens, ctx.limits.max_model_len, "prompt") for p in prompts
    ]
    plan = Plan(req, body, card, CompletionFormat(), prompts, budgets)
    return await _answer(request, ctx, plan, started)


async def create_chat_completion(request: Request) -> Response:
    started = time.monotonic()
    ctx = ApiContext.of(request)
    req, body = parse_body(await request.body(), ChatCompletionRequest)
    card = await _resolve(ctx, request, req.model)
    prompt = chat_prompt(ctx.tokenizer, req.messages)
    budget = completion_budget(
        len(prompt), req.completion_limit(), ctx.limits.max_model_len, "messages"
    )
    plan = Plan(req, body, card, ChatFormat(), [prompt], [budget])
    return await _answer(request, ctx, plan, started)


async def _resolve(ctx: ApiContext, request: Request, model: str) -> ModelCard:
    card = await run_in_threadpool(ctx.catalog.resolve, model)
    request.state.model = card.id
    return card


def _choices(ctx: ApiContext, plan: Plan, id_prefix: str) -> list[Choice]:
    req = plan.request
    if req.n * len(plan.prompts) > ctx.limits.max_n:
        raise ApiError(
            400, f"n: at most {ctx.limits.max_n} choices (n times prompts) per request", param="n"
        )
    choices = []
    for prompt, budget in zip(plan.prompts, plan.budgets, strict=True):
        if req.min_tokens > budget:
            raise ApiError(400, f"min_tokens: at most max_tokens ({budget})", param="min_tokens")
        for _ in range(req.n):
            index = len(choices)
            params = SamplingParams(
                max_tokens=budget,
                min_tokens=req.min_tokens,
                temperature=1.0 if req.temperature is None else req.temperature,
                top_p=1.0 if req.top_p is None else req.top_p,
                seed=None if req.seed is None else (req.seed + index) % (MAX_SEED + 1),
            )
            generation_request = GenerationRequest(
                f"{id_prefix}-{index}", prompt, plan.card.adapter_id, params
            )
            text = choice_text(index, ctx.tokenizer, prompt, req.stops())
            choices.append(Choice(generation_request, text))
    return choices


async def _answer(request: Request, ctx: ApiContext, plan: Plan, started: float) -> Response:
    provisional_id = f"{plan.format.id_prefix}-{uuid.uuid4().hex}"
    choices = _choices(ctx, plan, provisional_id)
    payment = await Payment.authorize(ctx.cashier, bearer_token(request), plan.card)
    generation = Generation(ctx.engine, choices)
    try:
        await generation.start()
    except BaseException:
        await payment.cancel()
        raise
    ctx.metrics.time_to_first_token.observe((generation.first_token_at or started) - started)
    exchange = Exchange(request, ctx, plan, generation, payment, provisional_id)
    return exchange.stream() if plan.request.stream else await exchange.complete()


class Exchange:
    """A started generation until its answer is delivered and its charge settled."""

    def __init__(
        self,
        request: Request,
        ctx: ApiContext,
        plan: Plan,
        generation: Generation,
        payment: Payment,
        provisional_id: str,
    ) -> None:
        self.request = request
        self.ctx = ctx
        self.plan = plan
        self.generation = generation
        self.payment = payment
        self.provisional_id = provisional_id
        self.created = int(time.time())

    def usage(self) -> Usage:
        return Usage(sum(map(len, self.plan.prompts)), self.generation.completion_tokens)

    def header(self, response_id: str) -> Header:
        return Header(response_id, self.created, self.plan.card.id)

    async def record(self) -> str:
        choices = [
            AnsweredChoice(tuple(choice.request.prompt_ids), choice.text.text)
            for choice in self.generation.choices
        ]
        return await self.payment.record(self.provisional_id, self.plan.body, choices)

    async def close(self) -> None:
        """Abort what still runs and give back an unrecorded charge; runs even when cancelled."""
        with anyio.CancelScope(shield=True):
            await self.generation.close()
            await self.payment.cancel()
        self.request.state.tokens = self.generation.completion_tokens
        self.ctx.metrics.completion_tokens.inc(self.generation.completion_tokens)

    async def complete(self) -> Response:
        """The whole answer in one JSON object (abandoned if the client leaves first)."""

        async def generate_and_record() -> str:
            async for _ in self.generation.deltas():
                pass
            return await self.record()

        try:
            response_id = await unless_disconnected(self.request.receive, generate_and_record)
        finally:
            await self.close()
        texts = [choice.text for choice in self.generation.choices]
        answer = self.plan.format.response(self.header(response_id), texts, self.usage())
        return JSONResponse(answer, headers={RESPONSE_ID_HEADER: response_id})

    def stream(self) -> Response:
        return EventStreamResponse(self._events(), on_close=self.close)

    async def _events(self) -> AsyncIterator[bytes]:
        options = self.plan.request.stream_options
        include_usage = options is not None and options.include_usage
        # With include_usage, OpenAI sends `"usage": null` in every chunk but the last.
        extra = {"usage": None} if include_usage else {}
        fmt, choices = self.plan.format, self.generation.choices
        header = self.header(self.provisional_id)
        try:
            for choice in choices:
                opening = fmt.opening_chunk(header, choice.text.index)
                if opening is not None:
                    yield sse(opening | extra)
            async for text, released in self.generation.deltas():
                if released:
                    yield sse(fmt.chunk(header, text.index, released, None) | extra)
            final = self.header(await self.record())
            for choice in choices:
                finish = fmt.chunk(final, choice.text.index, "", choice.text.finish_reason)
                yield sse(finish | extra)
            if include_usage:
                yield sse(fmt.usage_chunk(final, self.usage()))
        except Exception as exc:  # the status is sent already: report in the stream, as OpenAI
            yield sse(to_api_error(exc).body())
        yield sse("[DONE]")
