"""The service: authenticate, validate, and run one use case in one transaction.

Theory of operation. `execute` is the only way in. The parameters it receives are already
decoded; it scans them for card numbers (D-36), validates them against the operation's schema
and its expandable fields (refusals here execute and save nothing), then opens one write
transaction in which the idempotency record is looked up, the use case runs, and the outcome is
saved under the key before COMMIT. A use case that meets a token past its expiry raises
`NeedsSettle`: the transaction is rolled back, the token is expired in a transaction of its own
(so that expiry and its events commit even if the request is then refused) and the request
runs again. Nothing here knows about HTTP.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

from reference_impl import accounts as accounts_mod
from reference_impl import cards, events, idempotency, payment_methods, payments, tokens
from reference_impl.accounts import AccountSpec, Directory
from reference_impl.behaviour import Behaviour
from reference_impl.clock import Clock
from reference_impl.context import DEFAULT_API_VERSION, Call, Env, NeedsSettle, Outcome, UseCase
from reference_impl.errors import AuthenticationFailed, DomainError, ValidationError
from reference_impl.faults import apply_faults, check_faults
from reference_impl.objects import Account
from reference_impl.operations import Operation
from reference_impl.params import validate
from reference_impl.store import Store
from reference_impl.variants import apply_variants, check_variants

__all__ = ["Service"]

USE_CASES: Final[Mapping[str, UseCase]] = {
    "PostSharedPaymentIssuedTokens": tokens.issue,
    "GetSharedPaymentIssuedTokensSharedPaymentIssuedToken": tokens.retrieve_issued,
    "PostSharedPaymentIssuedTokensSharedPaymentIssuedTokenRevoke": tokens.revoke_issued,
    "GetSharedPaymentGrantedTokensSharedPaymentGrantedToken": tokens.retrieve_granted,
    "PostTestHelpersSharedPaymentGrantedTokens": tokens.test_create_granted,
    "PostTestHelpersSharedPaymentGrantedTokensSharedPaymentGrantedTokenRevoke": tokens.revoke_granted,
    "PostPaymentIntents": payments.create_payment_intent,
    "GetPaymentIntentsIntent": payments.retrieve_payment_intent,
    "PostPaymentIntentsIntentConfirm": payments.confirm_payment_intent,
    "GetPaymentMethodsPaymentMethod": payment_methods.retrieve_payment_method,
    "PostRefunds": payments.create_refund,
    "PostWebhookEndpoints": events.create_endpoint,
    "GetWebhookEndpoints": events.list_endpoints,
    "DeleteWebhookEndpointsWebhookEndpoint": events.delete_endpoint,
    "GetEvents": events.list_events,
    "GetEventsId": events.retrieve_event,
    "GetTestHelpersSharedPaymentClock": tokens.get_clock,
    "PostTestHelpersSharedPaymentClockAdvance": tokens.advance_clock,
}

HOUSEKEEPING_SECONDS: Final = 5.0

_NO_KEY = (
    "You did not provide an API key. You need to provide your API key in the Authorization header, "
    "using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See "
    "https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/."
)


def _masked(key: str) -> str:
    """What may be shown of a refused key: its prefix and last four characters, never all of it."""
    if len(key) < 16:
        return "****"
    prefix = key[: key.index("_", 3) + 1] if key.count("_") >= 2 and key.index("_", 3) < 10 else key[:3]
    return f"{prefix}****{key[-4:]}"


def _lowercase_currencies(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters with every `currency` value lower-cased, at any depth (a variant: Stripe
    accepts `USD` as well as `usd`)."""
    out: dict[str, Any] = {}
    for name, value in raw.items():
        if isinstance(value, Mapping):
            value = _lowercase_currencies(value)
        elif name == "currency" and isinstance(value, str):
            value = value.lower()
        out[name] = value
    return out


class Service:
    def __init__(
        self,
        store: Store,
        *,
        accounts: Iterable[AccountSpec] = accounts_mod.DEFAULT_ACCOUNTS,
        faults: Iterable[str] = frozenset(),
        variants: Iterable[str] = frozenset(),
        time_source: Callable[[], float] | None = None,
        wake_webhooks: Callable[[], None] = lambda: None,
    ) -> None:
        specs = tuple(accounts)
        accounts_mod.check_specs(specs)
        self.store = store
        self.clock = Clock(store) if time_source is None else Clock(store, time_source)
        with store.write() as tx:
            salt = tx.meta("fingerprint_salt") or secrets.token_hex(16)
            tx.set_meta("fingerprint_salt", salt)
            stored = accounts_mod.ensure_accounts(tx, specs, self.clock.now())
        configured = {s.name for s in specs}
        self.accounts = Directory(a for a in stored if a.name in configured)
        behaviour = apply_faults(check_faults(faults), apply_variants(check_variants(variants), Behaviour()))
        self.env = Env(store, self.clock, behaviour, wake_webhooks, self.accounts, salt)
        self._in_flight = idempotency.InFlight()
        self._last_housekeeping = 0.0

    def set_webhook_waker(self, wake: Callable[[], None]) -> None:
        self.env = Env(self.store, self.clock, self.env.behaviour, wake, self.accounts, self.env.fingerprint_salt)

    def authenticate(self, key: str | None) -> Account:
        if not key:
            if self.env.behaviour.no_key_account:
                return self.accounts.all[0]
            raise AuthenticationFailed(_NO_KEY)
        account = self.accounts.by_key.get(key)
        if account is None:
            shown = key if self.env.behaviour.refused_key_shown_whole else _masked(key)
            raise AuthenticationFailed(f"Invalid API Key provided: {shown}")
        return account

    def execute(
        self,
        operation: Operation,
        account: Account,
        path_id: str | None,
        raw: Mapping[str, Any],
        *,
        request_id: str,
        idempotency_key: str | None = None,
        api_version: str | None = None,
    ) -> Outcome:
        """Run `operation` for `account` with the decoded parameters `raw`."""
        found = cards.find_card_number({**raw, **({operation.path_param or "id": path_id} if path_id else {})})
        if found is not None:
            raise ValidationError(
                f"Invalid {found}: the value looks like a card number. Card numbers cannot be sent to "
                "this API; use a PaymentMethod.",
                param=found,
            )
        rules = self.env.behaviour
        if rules.unknown_parameters_dropped:
            raw = {name: value for name, value in raw.items() if name in operation.params.fields}
        if rules.currency_case_insensitive:
            raw = _lowercase_currencies(raw)
        params = validate(operation.params, raw)
        for field in params.get("expand", ()):
            if field not in operation.expandable:
                raise ValidationError(f"This property cannot be expanded ({field}).", param="expand")
        call = Call(account, path_id, params, request_id, idempotency_key, api_version or DEFAULT_API_VERSION)
        use_case = USE_CASES[operation.name]
        if operation.method != "POST" or idempotency_key is None:
            return self._run(use_case, call, None, read_only=operation.method == "GET")
        idempotency.check_key(idempotency_key)
        print_ = idempotency.fingerprint(
            operation.name, path_id, raw if rules.idempotency_fingerprints_parameters else {}
        )
        self._in_flight.claim(account.id, idempotency_key)
        try:
            return self._run(use_case, call, print_)
        finally:
            self._in_flight.release(account.id, idempotency_key)

    def _run(self, use_case: UseCase, call: Call, print_: str | None, *, read_only: bool = False) -> Outcome:
        key = call.idempotency_key
        for _ in range(3):
            try:
                # A GET writes nothing (Store.read checks): it reads under the store's lock,
                # without the cost of a write transaction.
                with self.store.read() if read_only else self.store.write() as tx:
                    now = self.clock.real()
                    if print_ is not None and key is not None and self.env.behaviour.idempotent_replays:
                        saved = idempotency.lookup(tx, call.account.id, key, print_, now)
                        if saved is not None:
                            return Outcome(saved.status, saved.body.encode(), replayed=True)
                    outcome = use_case(self.env, tx, call)
                    if print_ is not None and key is not None and (outcome.status < 400 or outcome.status == 402):
                        saved = idempotency.Saved(outcome.status, outcome.body.decode())
                        idempotency.save(tx, call.account.id, key, print_, saved, now)
                    return outcome
            except NeedsSettle as settle:
                tokens.settle(self.env, settle.token_id)
        raise DomainError("The request could not be completed; retry it.")  # pragma: no cover

    def sweep(self) -> int:
        """Expire due tokens, prune idempotency records older than 24 h, checkpoint the WAL."""
        expired = tokens.sweep(self.env)
        now = self.clock.real()
        if now - self._last_housekeeping >= HOUSEKEEPING_SECONDS:
            self._last_housekeeping = now  # not urgent; each pass takes the write lock
            with self.store.write() as tx:
                tx.prune_idempotent(now - idempotency.TTL_SECONDS)
        # Small and frequent: a checkpoint copies what the WAL gathered since the last one, and
        # a long gap makes a long, latency-spiking copy.
        self.store.checkpoint()
        return expired
