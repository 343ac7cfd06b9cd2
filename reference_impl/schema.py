"""The SQLite schema. One file holds all state; every table is what survives a restart."""

from __future__ import annotations

from typing import Final

__all__ = ["DDL", "VERSION"]

VERSION: Final = 1

DDL: Final = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS accounts (
    id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, role TEXT NOT NULL,
    secret_key TEXT NOT NULL UNIQUE, profile TEXT NOT NULL UNIQUE, created INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS tokens (
    id TEXT PRIMARY KEY, created INTEGER NOT NULL,
    agent_account TEXT, agent_profile TEXT, seller_account TEXT NOT NULL, seller_profile TEXT,
    external_id TEXT, payment_method TEXT NOT NULL,
    currency TEXT NOT NULL, max_amount INTEGER NOT NULL, expires_at INTEGER,
    recurring_interval TEXT, recurring_count INTEGER, recurring_legacy INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL, deactivated_reason TEXT, deactivated_at INTEGER,
    amount_captured INTEGER NOT NULL, usage_window INTEGER NOT NULL,
    shared_metadata TEXT NOT NULL, setup_future_usage TEXT, return_url TEXT, use_stripe_sdk INTEGER);
CREATE INDEX IF NOT EXISTS tokens_expiry ON tokens (expires_at) WHERE state != 'deactivated';
CREATE TABLE IF NOT EXISTS payment_methods (
    id TEXT PRIMARY KEY, account TEXT NOT NULL, created INTEGER NOT NULL, card_kind TEXT NOT NULL,
    brand TEXT NOT NULL, last4 TEXT NOT NULL, exp_month INTEGER NOT NULL, exp_year INTEGER NOT NULL,
    funding TEXT NOT NULL, country TEXT NOT NULL, fingerprint TEXT NOT NULL, cvc_check TEXT,
    shared_payment_granted_token TEXT);
CREATE TABLE IF NOT EXISTS payment_intents (
    id TEXT PRIMARY KEY, account TEXT NOT NULL, created INTEGER NOT NULL, amount INTEGER NOT NULL,
    currency TEXT NOT NULL, status TEXT NOT NULL, client_secret TEXT NOT NULL,
    capture_method TEXT NOT NULL, payment_method TEXT, latest_charge TEXT,
    amount_received INTEGER NOT NULL, token TEXT, token_param TEXT, description TEXT, metadata TEXT NOT NULL,
    payment_method_types TEXT NOT NULL, last_payment_error TEXT);
CREATE TABLE IF NOT EXISTS charges (
    id TEXT PRIMARY KEY, account TEXT NOT NULL, created INTEGER NOT NULL,
    payment_intent TEXT NOT NULL, payment_method TEXT NOT NULL, amount INTEGER NOT NULL,
    currency TEXT NOT NULL, status TEXT NOT NULL, shared_payment_granted_token TEXT,
    amount_refunded INTEGER NOT NULL, failure_code TEXT, decline_code TEXT, failure_message TEXT);
CREATE INDEX IF NOT EXISTS charges_token ON charges (shared_payment_granted_token);
CREATE TABLE IF NOT EXISTS refunds (
    id TEXT PRIMARY KEY, account TEXT NOT NULL, created INTEGER NOT NULL, charge TEXT NOT NULL,
    payment_intent TEXT NOT NULL, amount INTEGER NOT NULL, currency TEXT NOT NULL, reason TEXT,
    metadata TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS webhook_endpoints (
    id TEXT PRIMARY KEY, account TEXT NOT NULL, created INTEGER NOT NULL, url TEXT NOT NULL,
    secret TEXT NOT NULL, enabled_events TEXT NOT NULL, api_version TEXT, description TEXT,
    metadata TEXT NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS endpoints_account ON webhook_endpoints (account, deleted);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, account TEXT NOT NULL,
    type TEXT NOT NULL, created INTEGER NOT NULL, body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS events_account ON events (account, seq);
CREATE INDEX IF NOT EXISTS events_account_type ON events (account, type, seq);
CREATE TABLE IF NOT EXISTS deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT, event TEXT NOT NULL, endpoint TEXT NOT NULL,
    state TEXT NOT NULL, attempts INTEGER NOT NULL, next_attempt_at REAL NOT NULL,
    first_attempt_at REAL, last_status INTEGER);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS deliveries_event ON deliveries (event) WHERE state = 'pending';
CREATE TABLE IF NOT EXISTS idempotency (
    account TEXT NOT NULL, key TEXT NOT NULL, fingerprint TEXT NOT NULL, status INTEGER NOT NULL,
    body TEXT NOT NULL, created REAL NOT NULL, PRIMARY KEY (account, key));
CREATE INDEX IF NOT EXISTS idempotency_age ON idempotency (created);
"""
