"""LiteLLM proxy's tables, filled with generated requests, and the canonical log they stand for.

The DDL is LiteLLM's published Prisma schema turned into PostgreSQL as Prisma migrates it: the
models ``LiteLLM_TeamTable``, ``LiteLLM_UserTable``, ``LiteLLM_VerificationToken`` and
``LiteLLM_SpendLogs`` of ``schema.prisma`` in the BerriAI/litellm repository (root folder),
scalar fields only (relations are not columns). String -> TEXT, String[] -> TEXT[], Float ->
DOUBLE PRECISION, Int -> INTEGER, BigInt -> BIGINT, Boolean -> BOOLEAN, Json -> JSONB, DateTime ->
TIMESTAMP(3) (UTC, without time zone).
"""

from __future__ import annotations

import json
import random
from typing import Any

import pandas as pd

DDL = [
    """CREATE TABLE "LiteLLM_TeamTable" (
        team_id TEXT PRIMARY KEY, team_alias TEXT, organization_id TEXT, object_permission_id TEXT,
        admins TEXT[], members TEXT[], members_with_roles JSONB NOT NULL DEFAULT '{}',
        metadata JSONB NOT NULL DEFAULT '{}', max_budget DOUBLE PRECISION, soft_budget DOUBLE PRECISION,
        spend DOUBLE PRECISION NOT NULL DEFAULT 0, models TEXT[], max_parallel_requests INTEGER,
        tpm_limit BIGINT, rpm_limit BIGINT, budget_duration TEXT, budget_reset_at TIMESTAMP(3),
        blocked BOOLEAN NOT NULL DEFAULT false,
        created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
        updated_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
        model_spend JSONB NOT NULL DEFAULT '{}', model_max_budget JSONB NOT NULL DEFAULT '{}',
        router_settings JSONB DEFAULT '{}', team_member_permissions TEXT[] DEFAULT ARRAY[]::TEXT[],
        model_id INTEGER UNIQUE)""",
    """CREATE TABLE "LiteLLM_UserTable" (
        user_id TEXT PRIMARY KEY, user_alias TEXT, team_id TEXT, sso_user_id TEXT UNIQUE,
        organization_id TEXT, object_permission_id TEXT, password TEXT,
        teams TEXT[] DEFAULT ARRAY[]::TEXT[], user_role TEXT, max_budget DOUBLE PRECISION,
        spend DOUBLE PRECISION NOT NULL DEFAULT 0, user_email TEXT, models TEXT[],
        metadata JSONB NOT NULL DEFAULT '{}', max_parallel_requests INTEGER, tpm_limit BIGINT,
        rpm_limit BIGINT, budget_duration TEXT, budget_reset_at TIMESTAMP(3),
        allowed_cache_controls TEXT[] DEFAULT ARRAY[]::TEXT[], model_spend JSONB NOT NULL DEFAULT '{}',
        model_max_budget JSONB NOT NULL DEFAULT '{}', created_at TIMESTAMP(3) DEFAULT CURRENT_TIMESTAMP,
        updated_at TIMESTAMP(3) DEFAULT CURRENT_TIMESTAMP)""",
    """CREATE TABLE "LiteLLM_VerificationToken" (
        token TEXT PRIMARY KEY, key_name TEXT, key_alias TEXT,
        soft_budget_cooldown BOOLEAN NOT NULL DEFAULT false, spend DOUBLE PRECISION NOT NULL DEFAULT 0,
        expires TIMESTAMP(3), models TEXT[], aliases JSONB NOT NULL DEFAULT '{}',
        config JSONB NOT NULL DEFAULT '{}', user_id TEXT, team_id TEXT,
        permissions JSONB NOT NULL DEFAULT '{}', max_parallel_requests INTEGER,
        metadata JSONB NOT NULL DEFAULT '{}', blocked BOOLEAN, tpm_limit BIGINT, rpm_limit BIGINT,
        max_budget DOUBLE PRECISION, budget_duration TEXT, budget_reset_at TIMESTAMP(3),
        allowed_cache_controls TEXT[] DEFAULT ARRAY[]::TEXT[], model_spend JSONB NOT NULL DEFAULT '{}',
        model_max_budget JSONB NOT NULL DEFAULT '{}', budget_id TEXT, organization_id TEXT,
        object_permission_id TEXT, created_at TIMESTAMP(3) DEFAULT CURRENT_TIMESTAMP, created_by TEXT,
        updated_at TIMESTAMP(3) DEFAULT CURRENT_TIMESTAMP, updated_by TEXT)""",
    """CREATE TABLE "LiteLLM_SpendLogs" (
        request_id TEXT PRIMARY KEY, call_type TEXT NOT NULL, api_key TEXT NOT NULL DEFAULT '',
        spend DOUBLE PRECISION NOT NULL DEFAULT 0, total_tokens INTEGER NOT NULL DEFAULT 0,
        prompt_tokens INTEGER NOT NULL DEFAULT 0, completion_tokens INTEGER NOT NULL DEFAULT 0,
        "startTime" TIMESTAMP(3) NOT NULL, "endTime" TIMESTAMP(3) NOT NULL, request_duration_ms INTEGER,
        "completionStartTime" TIMESTAMP(3), model TEXT NOT NULL DEFAULT '', model_id TEXT DEFAULT '',
        model_group TEXT DEFAULT '', custom_llm_provider TEXT DEFAULT '', api_base TEXT DEFAULT '',
        "user" TEXT DEFAULT '', metadata JSONB DEFAULT '{}', cache_hit TEXT DEFAULT '',
        cache_key TEXT DEFAULT '', request_tags JSONB DEFAULT '[]', team_id TEXT, organization_id TEXT,
        end_user TEXT, requester_ip_address TEXT, messages JSONB DEFAULT '{}', response JSONB DEFAULT '{}',
        session_id TEXT, status TEXT, mcp_namespaced_tool_name TEXT, agent_id TEXT,
        proxy_server_request JSONB DEFAULT '{}')""",
    """CREATE INDEX "LiteLLM_SpendLogs_startTime_idx" ON "LiteLLM_SpendLogs" ("startTime")""",
]

# user_id: (alias, email, team_id); a user without alias is shown by id, one without email bare.
USERS = {
    "u-ada": ("Ada Lovelace", "ada@example.org", "t-search"),
    "u-grace": ("Grace Hopper", "grace@example.org", "t-platform"),
    "u-linus": ("Linus <T>", None, "t-platform"),
    "u-barbara": (None, "barbara@example.org", "t-rnd"),
    "u-ken": ("Ken & Co", "ken@example.org", None),
}
TEAMS = {"t-search": "Search", "t-platform": "Platform", "t-rnd": "R&D", "t-noalias": None}
# token (a hash, never the secret): (alias, name, user_id, team_id)
KEYS = {
    "hash-1": ("prod-backend", "sk-...a1b2", "u-ada", "t-search"),
    "hash-2": ("notebooks", "sk-...c3d4", "u-grace", "t-platform"),
    "hash-3": (None, "sk-...e5f6", "u-barbara", "t-rnd"),
    "hash-4": (None, None, "u-ken", "t-noalias"),
}
MODELS = (("gpt-4o", "openai/gpt-4o"), ("claude", "anthropic/claude-3-5-sonnet"), ("", "gpt-4o-mini"))
TAGS = ("env:prod", "env:dev", "proj:x", "tier:1")


def fill(cursor: Any) -> None:
    """Create the tables and the users, teams and keys."""
    for statement in DDL:
        cursor.execute(statement)
    for team_id, alias in TEAMS.items():
        cursor.execute('INSERT INTO "LiteLLM_TeamTable" (team_id, team_alias, admins, members, models) '
                       "VALUES (%s, %s, '{}', '{}', '{}')", (team_id, alias))  # fmt: skip
    for user_id, (alias, email, team_id) in USERS.items():
        cursor.execute('INSERT INTO "LiteLLM_UserTable" (user_id, user_alias, user_email, team_id, models) '
                       "VALUES (%s, %s, %s, %s, '{}')", (user_id, alias, email, team_id))  # fmt: skip
    for token, (alias, name, user_id, team_id) in KEYS.items():
        cursor.execute(
            'INSERT INTO "LiteLLM_VerificationToken" (token, key_alias, key_name, user_id, team_id, models) '
            "VALUES (%s, %s, %s, %s, %s, '{}')",
            (token, alias, name, user_id, team_id),
        )


def requests(seed: int, now: pd.Timestamp, n: int, prefix: str = "req") -> list[dict[str, Any]]:
    """Spend-log rows as LiteLLM writes them (millisecond times, naive UTC)."""
    rng = random.Random(seed)
    rows = []
    stamps = sorted(rng.sample(range(20 * 86_400_000), n))
    for i, ms in enumerate(stamps):
        token = rng.choice(list(KEYS))
        _, _, key_user, key_team = KEYS[token]
        group, model = rng.choice(MODELS)
        prompt, completion = rng.randrange(5_000), rng.randrange(1_500)
        start = (now - pd.Timedelta(milliseconds=ms)).tz_localize(None).floor("ms")
        rows.append({
            "request_id": f"{prefix}-{seed}-{i}",
            "call_type": "acompletion",
            "api_key": token,
            "spend": round(rng.uniform(0, 0.5), 8),
            "total_tokens": prompt + completion,
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "startTime": start,
            "endTime": start + pd.Timedelta(seconds=2),
            "model": model,
            "model_group": group,
            # The caller as LiteLLM records it: the key's owner, someone sharing the key, or
            # blank (then the key's owner is taken).
            "user": rng.choice([key_user, key_user, key_user, "", "u-linus"]),
            "team_id": key_team if rng.random() < 0.9 else None,
            "request_tags": json.dumps(rng.sample(TAGS, rng.choice((0, 1, 2)))),
        })  # fmt: skip
    return rows


def insert(cursor: Any, rows: list[dict[str, Any]]) -> None:
    columns = list(rows[0])
    quoted = ", ".join(f'"{c}"' for c in columns)
    marks = ", ".join("%s" for _ in columns)
    cursor.executemany(
        f'INSERT INTO "LiteLLM_SpendLogs" ({quoted}) VALUES ({marks})',
        [tuple(_plain(r[c]) for c in columns) for r in rows],
    )


def _plain(value: Any) -> Any:
    return value.to_pydatetime() if isinstance(value, pd.Timestamp) else value


def canonical(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The same requests as a canonical log, joined by hand."""
    out = []
    for r in rows:
        alias, name, key_user, _ = KEYS[r["api_key"]]
        user = r["user"] or key_user
        user_alias, email, _ = USERS[user]
        out.append({
            "request_id": r["request_id"],
            "timestamp": pd.Timestamp(r["startTime"]).tz_localize("UTC"),
            "user_id": user,
            "user_name": user_alias,
            "user_email": email,
            "team": (TEAMS.get(r["team_id"]) or r["team_id"]) if r["team_id"] else None,
            "api_key": alias or name or r["api_key"],
            "model": r["model_group"] or r["model"],
            "tags": json.loads(r["request_tags"]),
            "input_tokens": r["prompt_tokens"],
            "output_tokens": r["completion_tokens"],
            "cost": r["spend"],
        })  # fmt: skip
    return pd.DataFrame(out)
