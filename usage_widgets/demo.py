"""A deterministic, realistic synthetic AI-gateway request log for demos, tests and benchmarks."""

from __future__ import annotations

import unicodedata
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

import numpy as np
import pandas as pd
import pyarrow as pa

from usage_widgets.prices import _regimes, price_requests

__all__ = ["ANOMALY_ATTR", "DOMAIN", "MODELS", "TEAMS", "anomaly_user", "demo_log"]

#: Key of ``DataFrame.attrs`` that names the user whose runaway script is planted at the end.
ANOMALY_ATTR = "anomaly_user_id"
#: The fictitious company's e-mail domain (reserved for documentation by RFC 2606).
DOMAIN = "example.com"

_DAY_US = 86_400 * 10**6  # times are drawn in microseconds
_HOUR_US = 3_600 * 10**6
_SLOTS = 6  # everyday workloads per user: (key, model, feature, tags) combinations
_WIDTH = _SLOTS + 1  # and one batch job, run only by the anomaly user
_MAX_TAGS = 4  # tags per workload in this generator (the schema allows 10)
_CHUNK_ROWS = 4_000_000  # rows per Arrow chunk of the tags column (int32 offsets)

# --------------------------------------------------------------------------------------------
# Catalogues
# --------------------------------------------------------------------------------------------

#: The built-in team names; more are generated when ``teams`` asks for more.
TEAMS = (
    "Platform", "Search", "Data Science", "Growth", "Support Automation", "Research",
    "Mobile", "Security", "Finance Ops", "Legal", "Design", "Infra",
)  # fmt: skip
_MORE_TEAMS = (
    "Payments", "Identity", "Billing", "Analytics", "Marketing", "Sales Engineering",
    "Customer Success", "Quality", "Localization", "Ads", "Recommendations", "Trust & Safety",
    "Developer Experience", "Observability", "Compliance", "People Ops", "Procurement",
    "Partnerships", "Content", "Documentation", "Edge", "Storage", "Networking", "Fraud",
    "Onboarding", "Notifications", "Maps", "Video", "Voice", "Ranking", "ML Platform",
    "Data Engineering", "Internal Tools", "Sales Ops", "Developer Relations", "Checkout",
    "Catalog", "Logistics",
)  # fmt: skip
_TEAM_APPS = {
    "Platform": ("gateway", "dev-portal", "ci-assistant"),
    "Search": ("search", "query-rewrite", "autocomplete"),
    "Data Science": ("notebooks", "forecasting", "churn-model"),
    "Growth": ("lifecycle-emails", "experiments", "seo-content"),
    "Support Automation": ("ticket-triage", "reply-drafts", "helpdesk-bot"),
    "Research": ("eval-harness", "paper-digest", "agents-lab"),
    "Mobile": ("ios-assistant", "android-assistant", "release-notes"),
    "Security": ("log-analyzer", "phishing-triage", "code-scanner"),
    "Finance Ops": ("invoice-parser", "expense-review"),
    "Legal": ("contract-review", "policy-qa"),
    "Design": ("ux-writer", "figma-plugin", "alt-text"),
    "Infra": ("incident-summary", "runbook-bot", "k8s-copilot"),
}
# How much more than an average team a team leans on AI (teams not listed: 1).
_TEAM_APPETITE = {
    "Research": 2.0, "Data Science": 1.6, "Support Automation": 1.4, "Platform": 1.3,
    "Search": 1.2, "Security": 0.9, "Design": 0.7, "Finance Ops": 0.6, "Legal": 0.6,
}  # fmt: skip
_SERVICE_KEY_SUFFIXES = ("prod", "staging", "internal")
_SERVICE_KEY_ENV = ("env:prod", "env:staging", "env:prod")
_PERSONAL_ENV = "env:dev"
_EXTRA_TAGS = (
    "priority:high", "priority:low", "experiment:prompt-v2", "experiment:prompt-v3",
    "region:eu-west-1", "region:us-east-1", "cache:warm",
)  # fmt: skip
_ANOMALY_TAGS = ("env:dev", "app:batch-eval")
_ANOMALY_MODELS = ("gpt-4.1-mini", "claude-3-5-haiku-latest", "gpt-4.1-mini")
_BATCH_FEATURE = "eval"
_RUNAWAY_GAP_S = 4  # the runaway job's mean seconds between calls, at the least

#: Models called (names the price table knows, all priced linearly), their popularity and how
#: much longer than usual their outputs are (reasoning models bill hidden reasoning tokens).
MODELS: tuple[tuple[str, float, float], ...] = (
    ("gpt-4o", 1.2, 1.0),
    ("gpt-4o-mini", 1.6, 1.0),
    ("gpt-4.1", 0.9, 1.0),
    ("gpt-4.1-mini", 1.1, 1.0),
    ("gpt-4.1-nano", 0.35, 0.9),
    ("o4-mini", 0.6, 3.0),
    ("claude-sonnet-4-0", 1.3, 1.1),
    ("claude-3-5-haiku-latest", 0.7, 0.9),
    ("claude-opus-4-1", 0.25, 1.3),
    ("gemini-2.5-flash", 0.8, 1.4),
    ("gemini-2.0-flash", 0.5, 1.0),
    ("mistral-large-latest", 0.3, 1.0),
    ("deepseek-chat", 0.35, 1.1),
)
# Kind of work: name, median input tokens, median output tokens, log-sd of input, of output.
_FEATURES: tuple[tuple[str, float, float, float, float], ...] = (
    ("chat", 1400, 380, 0.9, 0.8),
    ("summarize", 4200, 260, 0.8, 0.5),
    ("classify", 650, 3, 0.6, 0.5),
    ("extract", 2200, 140, 0.7, 0.6),
    ("rag-answer", 3200, 320, 0.6, 0.6),
    ("code-review", 6500, 650, 0.8, 0.7),
    ("code-gen", 1800, 900, 0.8, 0.8),
    ("translate", 900, 950, 0.7, 0.7),
    ("agent-step", 9000, 220, 0.9, 0.9),
    ("sql-gen", 2600, 120, 0.6, 0.5),
    ("moderation", 350, 2, 0.5, 0.4),
    ("rerank", 1200, 8, 0.5, 0.5),
    ("eval", 2200, 350, 0.35, 0.5),  # templated prompts: narrow spread
)
_MAX_INPUT_TOKENS = 120_000
_MAX_OUTPUT_TOKENS = 16_000

# Given and family names by region; most people get a family name from their given name's region.
_NAMES: dict[str, tuple[str, str]] = {
    "anglo": (
        "James Olivia Liam Emma Noah Ava Ethan Sophie Oliver Charlotte Henry Grace Samuel "
        "Hannah Daniel Laura Thomas Claire Rachel Michael",
        "Smith Johnson Williams Brown Taylor Anderson Clarke Walker Wright Murphy O'Brien "
        "MacDonald Campbell Stewart Kelly Byrne Bennett Hughes",
    ),
    "hispanic": (
        "Mateo Sofía Diego Valentina Javier Lucía Carlos Camila Alejandro Isabel Pablo Elena",
        "García Martínez Rodríguez López Hernández Fernández Reyes Cruz Morales Ortega Navarro",
    ),
    "lusophone": (
        "João Beatriz Mateus Inês Rafael Mariana",
        "Silva Santos Oliveira Costa Pereira Almeida Carvalho",
    ),
    "french": (
        "Louis Chloé Théo Camille Antoine Léa Julien Margaux",
        "Dubois Lefèvre Moreau Laurent Girard Bonnet Mercier",
    ),
    "germanic": (
        "Lukas Anna Jonas Lena Felix Greta Maximilian Johanna Søren Ingrid Mikael Astrid Freya",
        "Müller Schmidt Schneider Fischer Weber Becker Hoffmann Jensen Nielsen Andersson "
        "Johansson Lindqvist Virtanen Korhonen Berg",
    ),
    "italian": (
        "Marco Giulia Luca Chiara Matteo Francesca",
        "Rossi Russo Bianchi Romano Ricci Colombo Greco",
    ),
    "central_eastern": (
        "Piotr Zofia Jakub Katarzyna Ivan Olga Dmitri Natalia Andrei Ioana Bence Réka Tomáš",
        "Kowalski Nowak Wiśniewski Novák Horváth Ivanov Petrov Popescu Kovačević Dvořák Nagy",
    ),
    "greek_turkish": (
        "Nikos Eleni Giorgos Sofia Emre Elif Can Zeynep",
        "Papadopoulos Georgiou Yılmaz Kaya Demir Şahin",
    ),
    "mena": (
        "Omar Layla Yusuf Fatima Karim Amira Reza Leila Noa Eitan Samir Yasmin",
        "Haddad Khalil Nasser Rahimi Hosseini Cohen Levi Mansour Farouk",
    ),
    "south_asian": (
        "Priya Arjun Ananya Rahul Aditi Vikram Kavya Rohan Meera Sanjay Imran Ayesha Nikhil Divya",
        "Patel Sharma Singh Gupta Reddy Iyer Nair Menon Chatterjee Das Khan Ahmed Hussain "
        "Rahman Chowdhury Kapoor",
    ),
    "east_asian": (
        "Wei Mei Jun Xin Hao Lin Yu Haruto Yuki Aiko Kenji Sakura Takeshi Min-jun Ji-woo "
        "Seo-yeon Hyun-woo",
        "Wang Li Zhang Liu Chen Yang Huang Zhao Wu Zhou Tanaka Suzuki Sato Takahashi Watanabe "
        "Yamamoto Kim Lee Park Choi Jung",
    ),
    "southeast_asian": (
        "Minh Linh Anh Thanh Maria Jose Paolo Andrea Siti Rizal",
        "Nguyen Tran Pham Le Hoang Bautista Santos Reyes Villanueva Wijaya Tan Lim",
    ),
    "african": (
        "Kwame Amara Chinedu Ngozi Tendai Zanele Kofi Abena Tunde Adaeze Thabo Wanjiru Abebe Hana",
        "Okafor Adeyemi Mensah Owusu Mwangi Otieno Dlamini Nkosi Tesfaye Diallo Traoré Kamau "
        "Okonkwo Banda",
    ),
}
_ASCII_FOLD = str.maketrans(
    {"ø": "o", "Ø": "O", "ł": "l", "Ł": "L", "ß": "ss", "ı": "i", "đ": "d", "Đ": "D", "'": ""}
)

# Relative request volume by local hour of day, on working days and on weekends.
_WORKDAY_HOURS = np.array(
    [0.5, 0.3, 0.2, 0.2, 0.2, 0.4, 1.0, 3.0, 6.0, 9.0, 10.0, 9.5,
     6.0, 8.0, 9.5, 9.5, 8.5, 6.0, 3.5, 2.5, 2.0, 1.8, 1.2, 0.8]
)  # fmt: skip
_WEEKEND_HOURS = np.array(
    [0.6, 0.4, 0.3, 0.3, 0.3, 0.4, 0.6, 1.0, 1.6, 2.4, 3.2, 3.6,
     3.6, 3.4, 3.4, 3.2, 3.0, 2.6, 2.2, 2.0, 1.8, 1.5, 1.1, 0.8]
)  # fmt: skip
_WEEKDAY_FACTOR = np.array([1.0, 1.06, 1.05, 1.0, 0.86, 1.0, 1.0])  # Monday..Sunday (weekday part)
_TEAM_UTC_OFFSETS = np.array([1, 0, 2, -5, -8])  # hours; teams sit in Europe or the US
_TEAM_UTC_OFFSET_P = np.array([0.4, 0.2, 0.1, 0.2, 0.1])

# Volume: mean requests per working day of an average user; per-user rates are lognormal.
_MEAN_DAILY_REQUESTS = 10.5
_RATE_SIGMA = 1.4


# --------------------------------------------------------------------------------------------
# People
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _People:
    """Who is in the company; one entry per user (arrays aligned by user index)."""

    user_id: np.ndarray  # object strings
    name: np.ndarray
    email: np.ndarray
    handle: np.ndarray  # ascii first name, for personal key names
    team: np.ndarray  # int team index
    team_names: list[str]
    team_offset_h: np.ndarray  # per team, hours east of UTC
    rate: np.ndarray  # mean requests per working day
    weekend: np.ndarray  # weekend volume relative to a working day
    join: np.ndarray  # fraction of the period elapsed when the user joined (0: from the start)
    personal: np.ndarray  # bool: has a personal key


@lru_cache(maxsize=4096)
def _ascii(text: str) -> str:
    """Lower-case ASCII form of a name for e-mail addresses and key names."""
    folded = unicodedata.normalize("NFKD", text.translate(_ASCII_FOLD))
    plain = "".join(ch for ch in folded if not unicodedata.combining(ch))
    return plain.encode("ascii", "ignore").decode().lower().replace(" ", "-")


@lru_cache(maxsize=1)
def _name_pool() -> tuple[list[str], list[str], np.ndarray, np.ndarray]:
    """Given and family names (distinct even in ASCII), and each one's region index.

    Family names come grouped by region, so a region's family names are a contiguous range.
    """
    firsts: list[str] = []
    lasts: list[str] = []
    first_region: list[int] = []
    last_region: list[int] = []
    seen: set[tuple[str, str]] = set()  # membership only, never iterated
    for region, (given, family) in enumerate(_NAMES.values()):
        for kind, names, out, regions in (
            ("f", given, firsts, first_region),
            ("l", family, lasts, last_region),
        ):
            for name in names.split():
                if (kind, _ascii(name)) not in seen:
                    seen.add((kind, _ascii(name)))
                    out.append(name)
                    regions.append(region)
    return firsts, lasts, np.array(first_region), np.array(last_region)


def _draw_names(rng: np.random.Generator, users: int) -> tuple[list[str], list[str], list[str]]:
    """Distinct display names, e-mail addresses and handles for ``users`` people."""
    firsts, lasts, first_region, last_region = _name_pool()
    n_first, n_last = len(firsts), len(lasts)
    region_size = np.bincount(last_region, minlength=len(_NAMES))
    region_start = np.concatenate([[0], np.cumsum(region_size)[:-1]])
    codes = np.empty(0, dtype=np.int64)
    for attempt in range(64):
        batch = max(64, 2 * (users - len(codes)))
        f = rng.integers(0, n_first, batch)
        same = rng.random(batch) < 0.75
        region_pick = rng.random(batch)
        l_any = rng.integers(0, n_last, batch)
        region = first_region[f]
        l_same = region_start[region] + (region_pick * region_size[region]).astype(np.int64)
        last = np.where(same, l_same, l_any)
        # Once plain names run short, a middle initial (1..26) tells people apart.
        middle = rng.integers(1, 27, batch) if attempt >= 8 else np.zeros(batch, dtype=np.int64)
        candidates = (f * n_last + last) * 27 + middle
        merged = np.concatenate([codes, candidates])
        _, first_seen = np.unique(merged, return_index=True)
        codes = merged[np.sort(first_seen)][:users]
        if len(codes) == users:
            break
    else:  # pragma: no cover - needs far more users than the name pool can tell apart
        raise ValueError(f"cannot invent {users} distinct names")
    names, emails, handles = [], [], []
    for code in codes.tolist():
        pair, middle = divmod(code, 27)
        first, last = firsts[pair // n_last], lasts[pair % n_last]
        initial = chr(ord("A") + middle - 1) if middle else ""
        names.append(f"{first} {initial}. {last}" if initial else f"{first} {last}")
        local = ".".join(p for p in (_ascii(first), initial.lower(), _ascii(last)) if p)
        emails.append(f"{local}@{DOMAIN}")
        handles.append(_ascii(first))
    return names, emails, handles


def _team_names(n_teams: int) -> list[str]:
    """``n_teams`` distinct team names: the built-in ones first, then generated ones."""
    pool = list(TEAMS) + list(_MORE_TEAMS)
    return [
        pool[i] if i < len(pool) else f"{pool[i % len(pool)]} {i // len(pool) + 1}"
        for i in range(n_teams)
    ]


def _assign_teams(rng: np.random.Generator, users: int, n_teams: int) -> np.ndarray:
    """Team of each user: Zipf-like team sizes, every team staffed when there are enough users."""
    # Earlier names in the list tend to be the larger teams, but the seed shuffles them a bit.
    size_rank = np.argsort(np.argsort(np.arange(n_teams) + rng.normal(0.0, 2.5, n_teams)))
    weights = 1.0 / (size_rank + 1.0) ** 0.85
    team = rng.choice(n_teams, size=users, p=weights / weights.sum())
    if users >= n_teams:
        team[rng.permutation(users)[:n_teams]] = np.arange(n_teams)
    return team.astype(np.int32)


def _draw_people(rng: np.random.Generator, users: int, n_teams: int) -> _People:
    """The company: names, teams, personal habits. Draws nothing that depends on time."""
    names, emails, handles = _draw_names(rng, users)
    ids = rng.choice(16**8, size=users, replace=False)
    team = _assign_teams(rng, users, n_teams)
    team_names = _team_names(n_teams)
    appetite = np.array([_TEAM_APPETITE.get(name, 1.0) for name in team_names])
    team_intensity = appetite * rng.lognormal(0.0, 0.35, n_teams)
    mu = np.log(_MEAN_DAILY_REQUESTS) - _RATE_SIGMA**2 / 2
    rate = rng.lognormal(mu, _RATE_SIGMA, users) * team_intensity[team]
    weekend = np.minimum(rng.lognormal(np.log(0.06), 0.6, users), 0.3)
    joins_later = rng.random(users) < 0.18
    join = np.where(joins_later, rng.uniform(0.12, 0.9, users), 0.0)
    return _People(
        user_id=np.array([f"usr_{i:08x}" for i in ids.tolist()], dtype=object),
        name=np.array(names, dtype=object),
        email=np.array(emails, dtype=object),
        handle=np.array(handles, dtype=object),
        team=team,
        team_names=team_names,
        team_offset_h=rng.choice(_TEAM_UTC_OFFSETS, size=n_teams, p=_TEAM_UTC_OFFSET_P),
        rate=rate,
        weekend=weekend,
        join=join,
        personal=rng.random(users) < 0.4,
    )


def _pick_anomaly(rng: np.random.Generator, people: _People) -> int:
    """An ordinary user (middle of the pack, there from the start) who will run away."""
    ranks = np.argsort(np.argsort(people.rate, kind="stable"), kind="stable")
    quantile = ranks / max(len(ranks) - 1, 1)
    candidates = np.flatnonzero((quantile >= 0.35) & (quantile <= 0.65) & (people.join == 0))
    if len(candidates) == 0:
        candidates = np.flatnonzero(people.join == 0)
    if len(candidates) == 0:
        candidates = np.arange(len(people.rate))
    return int(candidates[rng.integers(len(candidates))])


def _people_and_anomaly(rng: np.random.Generator, users: int, n_teams: int) -> tuple[_People, int]:
    """The company and its anomaly user, the first draws from the seed's generator."""
    people = _draw_people(rng, users, n_teams)
    anomaly = _pick_anomaly(rng, people)
    people.personal[anomaly] = True  # the runaway script uses the user's personal key
    return people, anomaly


# --------------------------------------------------------------------------------------------
# Keys, workloads, tags
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Catalog:
    """Keys, tags and tag combinations; workloads point into these by index."""

    keys: list[str]
    key_env: np.ndarray  # per key, index into tags of its env:... tag
    team_key_start: np.ndarray  # per team, index of its first service key
    team_key_count: np.ndarray
    personal_key: np.ndarray  # per user, key index or -1
    tags: list[str]
    team_apps: np.ndarray  # per team, padded app tag indices (-1 pad)
    team_app_count: np.ndarray
    team_features: np.ndarray  # per team, padded feature indices
    team_feature_count: np.ndarray


def _slug(name: str) -> str:
    """Key- and tag-safe form of a team name: 'Trust & Safety' -> 'trust-safety'."""
    words = "".join(c if c.isalnum() else " " for c in _ascii(name)).split()
    return "-".join(words)


def _personal_key_names(people: _People) -> list[str]:
    """'lena-dev' style personal key names, longer where a first name is shared."""
    holders = np.flatnonzero(people.personal).tolist()
    counts = Counter(people.handle[u] for u in holders)
    names = []
    for u in holders:
        handle = people.handle[u]
        if counts[handle] > 1:
            handle = people.email[u].split("@")[0].replace(".", "-")
        names.append(f"{handle}-dev")
    return names


def _build_catalog(rng: np.random.Generator, people: _People) -> _Catalog:
    """Service keys per team, personal keys, apps and features per team, the tag vocabulary."""
    n_teams = len(people.team_names)
    tags = ["env:prod", "env:staging", "env:dev", *_EXTRA_TAGS, _ANOMALY_TAGS[1]]
    tags += [f"feature:{f[0]}" for f in _FEATURES]
    env_index = {t: i for i, t in enumerate(tags[:3])}
    keys: list[str] = []
    key_env: list[int] = []
    key_start = np.zeros(n_teams, dtype=np.int64)
    key_count = rng.choice([1, 2, 3], size=n_teams, p=[0.25, 0.45, 0.3])
    apps = np.full((n_teams, 3), -1, dtype=np.int64)
    app_count = np.zeros(n_teams, dtype=np.int64)
    for t, team_name in enumerate(people.team_names):
        slug = _slug(team_name)
        key_start[t] = len(keys)
        for s in range(key_count[t]):
            keys.append(f"{slug}-{_SERVICE_KEY_SUFFIXES[s]}")
            key_env.append(env_index[_SERVICE_KEY_ENV[s]])
        team_apps = _TEAM_APPS.get(team_name, (f"{slug}-assistant", f"{slug}-tools"))
        for a, app in enumerate(team_apps):
            apps[t, a] = len(tags)
            tags.append(f"app:{app}")
        app_count[t] = len(team_apps)
    personal_key = np.full(len(people.rate), -1, dtype=np.int64)
    personal_key[people.personal] = len(keys) + np.arange(int(people.personal.sum()))
    keys += _personal_key_names(people)
    key_env += [env_index[_PERSONAL_ENV]] * int(people.personal.sum())
    # Each team works on 3-5 kinds of task (features), the first of them most.
    n_feat = len(_FEATURES)
    feature_count = rng.integers(3, 6, n_teams)
    features = np.argsort(rng.random((n_teams, n_feat)), axis=1)[:, :5]
    return _Catalog(
        keys=keys,
        key_env=np.array(key_env, dtype=np.int64),
        team_key_start=key_start,
        team_key_count=key_count,
        personal_key=personal_key,
        tags=tags,
        team_apps=apps,
        team_app_count=app_count,
        team_features=features,
        team_feature_count=feature_count,
    )


def _tag_index(catalog: _Catalog, tag: str) -> int:
    """Index of ``tag`` in the catalogue's tag vocabulary."""
    return catalog.tags.index(tag)


@dataclass(frozen=True)
class _Workloads:
    """Each user's habitual (key, model, feature, tag set) combinations, as flat tables.

    Workload ``user * _WIDTH + slot``: slots ``0.._SLOTS-1`` are everyday work, drawn with
    ``cum_weight``; slot ``_SLOTS`` is the batch job that only the anomaly user ever runs.
    """

    cum_weight: np.ndarray  # users x _WIDTH, cumulative; the batch slot has weight 0
    key: np.ndarray  # the rest: flat, one entry per workload
    model: np.ndarray
    tag_set: np.ndarray  # index into tag_sets
    mu_in: np.ndarray  # log-normal parameters of the token counts (float32)
    sd_in: np.ndarray
    mu_out: np.ndarray
    sd_out: np.ndarray
    tag_sets: np.ndarray  # n_sets x _MAX_TAGS tag indices, -1 padded; row 0 is the empty set


def _favourite_models(rng: np.random.Generator, people: _People) -> np.ndarray:
    """Users x 4 model indices, best-liked first; teams lean towards some models."""
    n_teams, n_models = len(people.team_names), len(MODELS)
    popularity = np.array([m[1] for m in MODELS])
    team_taste = popularity * rng.lognormal(0.0, 0.8, (n_teams, n_models))
    gumbel = rng.gumbel(size=(len(people.rate), n_models))
    score = np.log(team_taste[people.team]) + gumbel
    return np.argsort(-score, axis=1, kind="stable")[:, :4]


def _slot_keys(rng: np.random.Generator, people: _People, catalog: _Catalog) -> np.ndarray:
    """Users x slots key indices: mostly the team's service keys, some personal, a few borrowed."""
    users, n_teams = len(people.rate), len(people.team_names)
    shape = (users, _SLOTS)
    kind = np.searchsorted([0.6, 0.85], rng.random(shape), side="right")  # prod, staging, internal
    team = np.broadcast_to(people.team[:, None], shape)
    own = catalog.team_key_start[team] + np.minimum(kind, catalog.team_key_count[team] - 1)
    other_team = rng.integers(0, n_teams, shape)
    borrowed = catalog.team_key_start[other_team]
    draw = rng.random(shape)
    has_personal = (catalog.personal_key >= 0)[:, None]
    key = np.where(draw < 0.04, borrowed, own)
    use_personal = has_personal & (draw > 0.78)
    return np.where(use_personal, catalog.personal_key[:, None], key)


def _slot_tag_sets(
    rng: np.random.Generator,
    people: _People,
    catalog: _Catalog,
    key: np.ndarray,
    feature: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Tag set of every slot (index into a de-duplicated table), that table, the batch job's."""
    users = len(people.rate)
    shape = (users, _SLOTS)
    team = np.broadcast_to(people.team[:, None], shape)
    app_pick = (rng.random(shape) * catalog.team_app_count[team]).astype(np.int64)
    app = catalog.team_apps[team, app_pick]
    env = catalog.key_env[key]
    feat_tag = _tag_index(catalog, f"feature:{_FEATURES[0][0]}") + feature
    extra = _tag_index(catalog, _EXTRA_TAGS[0]) + rng.integers(0, len(_EXTRA_TAGS), shape)
    none = np.full(shape, -1, dtype=np.int64)
    # Patterns: env | env app | env app feature | app feature | (none) | env app feature extra
    pattern = np.searchsorted(
        np.cumsum([0.14, 0.3, 0.34, 0.1, 0.06, 0.06])[:-1], rng.random(shape), side="right"
    )
    columns = [
        np.select([pattern == 3, pattern == 4], [app, none], env),
        np.select([pattern == 0, pattern == 3, pattern == 4], [none, feat_tag, none], app),
        np.where((pattern == 2) | (pattern == 5), feat_tag, none),
        np.where(pattern == 5, extra, none),
    ]
    sets = np.stack(columns, axis=-1).reshape(-1, _MAX_TAGS)
    batch_set = np.array([[_tag_index(catalog, t) for t in _ANOMALY_TAGS] + [-1, -1]])
    empty = np.full((1, _MAX_TAGS), -1)
    table, inverse = np.unique(
        np.concatenate([empty, batch_set, sets]), axis=0, return_inverse=True
    )
    inverse = inverse.reshape(-1)
    assert (table[0] == -1).all()  # the empty set sorts first
    return inverse[2:].reshape(shape), table, int(inverse[1])


def _token_parameters(feature: np.ndarray, model: np.ndarray) -> tuple[np.ndarray, ...]:
    """Log-normal (mu, sd) of input and of output tokens per workload, as float32."""
    spec = np.array([f[1:] for f in _FEATURES], dtype=np.float64)
    out_mult = np.array([m[2] for m in MODELS])
    mu_in = np.log(spec[feature, 0])
    mu_out = np.log(spec[feature, 1] * out_mult[model])  # reasoning models write more
    return tuple(p.astype(np.float32) for p in (mu_in, spec[feature, 2], mu_out, spec[feature, 3]))


def _build_workloads(rng: np.random.Generator, people: _People, catalog: _Catalog) -> _Workloads:
    """Every user's habitual workloads: 2-4 favourite models, the team's keys and features."""
    users = len(people.rate)
    shape = (users, _SLOTS)
    favourites = _favourite_models(rng, people)
    n_fav = rng.integers(2, 5, users)
    slot = np.broadcast_to(np.arange(_SLOTS), shape)
    model = np.take_along_axis(favourites, slot % n_fav[:, None], axis=1)
    key = _slot_keys(rng, people, catalog)
    team = np.broadcast_to(people.team[:, None], shape)
    feat_pick = np.minimum(rng.geometric(0.45, shape) - 1, catalog.team_feature_count[team] - 1)
    feature = catalog.team_features[team, feat_pick]
    tag_set, tag_sets, batch_tags = _slot_tag_sets(rng, people, catalog, key, feature)
    weight = 0.55 ** np.arange(_SLOTS) * rng.lognormal(0.0, 0.5, shape)
    cum = np.cumsum(weight, axis=1)
    cum /= cum[:, -1:]
    cum = np.concatenate([cum, np.ones((users, 1))], axis=1)  # the batch slot: never by habit
    cum[:, -2] = 1.0
    # The batch job: one model, the user's personal key, tagged app:batch-eval.
    batch_model = [m[0] for m in MODELS].index(_ANOMALY_MODELS[rng.integers(len(_ANOMALY_MODELS))])
    batch_key = np.where(catalog.personal_key >= 0, catalog.personal_key, key[:, 0])
    batch_feature = [f[0] for f in _FEATURES].index(_BATCH_FEATURE)

    def widen(table: np.ndarray, batch: int | np.ndarray) -> np.ndarray:
        full = np.empty((users, _WIDTH), dtype=np.int32)
        full[:, :_SLOTS] = table
        full[:, _SLOTS] = batch
        return full.ravel()

    model, feature = widen(model, batch_model), widen(feature, batch_feature)
    return _Workloads(
        cum,
        widen(key, batch_key),
        model,
        widen(tag_set, batch_tags),
        *_token_parameters(feature, model),
        tag_sets=tag_sets,
    )


# --------------------------------------------------------------------------------------------
# Traffic
# --------------------------------------------------------------------------------------------


def _pick(rng: np.random.Generator, group: np.ndarray, cum_weight: np.ndarray) -> np.ndarray:
    """For each row, a column drawn with the cumulative weights of the row's group (vectorised).

    ``cum_weight`` is groups x choices, non-decreasing along each row and ending in exactly 1.
    The choice is the number of a group's cumulative weights at or below a uniform draw.
    """
    n_groups, k = cum_weight.shape
    draw = rng.random(len(group))
    if k <= 8:  # few choices: count with one gather and compare per choice
        choice = np.zeros(len(group), dtype=np.int64)
        for column in range(k - 1):
            choice += cum_weight[:, column][group] <= draw
        return choice
    # many choices: one binary search over every group's edges, offset by the group number
    edges = (np.arange(n_groups, dtype=np.float64)[:, None] + cum_weight).ravel()
    draw *= 1.0 - 1e-9  # stays below the group's last edge, group + 1
    draw += group
    choice = np.searchsorted(edges, draw, side="right")
    del draw
    choice -= group.astype(np.int64) * k
    return np.clip(choice, 0, k - 1, out=choice)


def _to_utc(now: pd.Timestamp | datetime | str | None) -> pd.Timestamp:
    """``now`` as a UTC timestamp; None is the current time, naive values are taken as UTC."""
    stamp = pd.Timestamp.now(tz="UTC") if now is None else pd.Timestamp(now)
    if stamp is pd.NaT:
        raise ValueError("now must be a time, not NaT")
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


@dataclass(frozen=True)
class _Window:
    """The period covered, on a grid of whole calendar days around it.

    Times are microseconds since ``grid_start``; the period holds those in ``(lo, hi]``.
    """

    grid_start: int  # ns since the epoch of the UTC midnight of grid day 0
    grid_days: int
    weekday: np.ndarray  # Monday=0 of each grid day
    days: int
    lo: int
    hi: int


def _window(now: pd.Timestamp, days: int) -> _Window:
    """The ``days`` ending at ``now``, with a grid of whole calendar days that covers them."""
    start = now - pd.Timedelta(days=days)
    grid_start = start.normalize() - pd.Timedelta(days=1)
    grid_days = days + 3  # covers time zones up to +-12h and partial first and last days
    weekday = (grid_start.dayofweek + np.arange(grid_days)) % 7
    lo, hi = ((t.value - grid_start.value) // 1000 for t in (start, now))
    return _Window(grid_start.value, grid_days, weekday, days, lo, hi)


def _daily_lambda(
    rng: np.random.Generator, people: _People, window: _Window, anomaly: int
) -> np.ndarray:
    """Users x grid days expected request counts: habits, week, growth, joining, holidays."""
    users, g = len(people.rate), window.grid_days
    day_mid = (np.arange(g) + 0.5) * _DAY_US
    elapsed = (day_mid - window.lo) / (window.days * _DAY_US)  # fraction of the period
    weekend = window.weekday >= 5
    day_factor = np.where(weekend, 0.0, _WEEKDAY_FACTOR[window.weekday])
    lam = people.rate[:, None] * (day_factor + weekend * people.weekend[:, None])
    lam *= 0.8 + 0.4 * np.clip(elapsed, 0.0, 1.0)  # adoption grows over the period
    # Late joiners: nothing before they join, then a ramp over their first week or so.
    since_join = (elapsed[None, :] - people.join[:, None]) * window.days
    ramp = np.where(since_join < 0, 0.0, np.clip(0.3 + since_join / 10.0, 0.0, 1.0))
    lam *= np.where(people.join[:, None] > 0, ramp, 1.0)
    # Holidays: some people are away for 4-12 days at some point.
    away = rng.random(users) < 0.4
    away[anomaly] = False
    leave_start = rng.uniform(0.0, 1.0, users) * window.days
    leave_len = rng.integers(4, 13, users)
    day_pos = elapsed * window.days
    on_leave = (
        away[:, None]
        & (day_pos >= leave_start[:, None])
        & (day_pos < (leave_start + leave_len)[:, None])
    )
    lam *= np.where(on_leave, 0.03, 1.0)
    lam *= rng.gamma(2.5, 1 / 2.5, (users, g))  # day-to-day noise
    return lam


def _hour_cum() -> np.ndarray:
    """2 x 24 cumulative hour-of-day weights: working days, then weekends."""
    cum = np.cumsum(np.stack([_WORKDAY_HOURS, _WEEKEND_HOURS]), axis=1)
    cum /= cum[:, -1:]
    cum[:, -1] = 1.0
    return cum


def _base_requests(
    rng: np.random.Generator, people: _People, window: _Window, anomaly: int
) -> tuple[np.ndarray, np.ndarray]:
    """User (int32) and time (us) of every ordinary request in the window, user by user."""
    counts = rng.poisson(_daily_lambda(rng, people, window, anomaly))  # users x grid days
    user_of, day_of = np.nonzero(counts)  # the (user, day) cells with requests, user by user
    per_cell = counts[user_of, day_of]
    del counts
    # Per cell, then repeated per request: who, and when their local day began.
    offset = people.team_offset_h[people.team[user_of]].astype(np.int64) * _HOUR_US
    midnight = day_of.astype(np.int64) * _DAY_US - offset
    weekend = (window.weekday[day_of] >= 5).astype(np.int8)
    user = np.repeat(user_of.astype(np.int32), per_cell)
    t = np.repeat(midnight, per_cell)
    hour = _pick(rng, np.repeat(weekend, per_cell), _hour_cum())
    hour *= _HOUR_US
    t += hour
    del hour
    t += rng.integers(0, _HOUR_US, len(t))
    keep = (t > window.lo) & (t <= window.hi)
    return user[keep], t[keep]


def _tokens(
    rng: np.random.Generator, workload: np.ndarray, work: _Workloads
) -> tuple[np.ndarray, np.ndarray]:
    """Log-normal input and output token counts of each request, by its workload."""
    n = len(workload)
    inp = rng.standard_normal(n, dtype=np.float32)
    inp *= work.sd_in[workload]
    inp += work.mu_in[workload]
    out = rng.standard_normal(n, dtype=np.float32)
    out *= work.sd_out[workload]
    out += work.mu_out[workload]
    np.exp(inp, out=inp)
    np.exp(out, out=out)
    out[rng.random(n, dtype=np.float32) < 0.004] = 0.0  # failed or cancelled calls bill no output
    inp = np.clip(np.rint(inp, out=inp), 1, _MAX_INPUT_TOKENS, out=inp).astype(np.int64)
    out = np.clip(np.rint(out, out=out), 0, _MAX_OUTPUT_TOKENS, out=out).astype(np.int64)
    return inp, out


_DAY_NS = 86_400 * 10**9
_PRICE_REFERENCE = 1_767_268_800 * 10**9  # 2026-01-01 12:00 UTC


@lru_cache(maxsize=4096)
def _unit_prices_at(regime_time: int) -> tuple[np.ndarray, np.ndarray]:
    """USD per input token and per output token of each model in ``MODELS`` at a moment, by
    price_requests.

    Every demo model is priced linearly up to the largest request generated, so
    ``input * per_in + output * per_out`` is exactly what ``price_requests`` returns, without
    turning millions of model names into Python strings.
    """
    names = [m[0] for m in MODELS]
    ones, zeros = np.ones(len(names)), np.zeros(len(names))
    when = np.full(len(names), regime_time, dtype=np.int64)
    per_in, per_out = price_requests(names, ones, zeros, when), price_requests(names, zeros, ones, when)
    most_in, most_out = ones * _MAX_INPUT_TOKENS, ones * _MAX_OUTPUT_TOKENS
    largest = price_requests(names, most_in, most_out, when)
    if not np.isfinite(largest).all() or not np.allclose(
        largest, most_in * per_in + most_out * per_out, rtol=1e-12, atol=0.0
    ):
        raise RuntimeError("a demo model is unknown to the price table or not priced linearly")
    per_in.flags.writeable = per_out.flags.writeable = False
    return per_in, per_out


def _unit_prices() -> tuple[np.ndarray, np.ndarray]:
    """Unit prices at a fixed moment, for expected costs (the mix of models, not a bill)."""
    return _unit_prices_at(_PRICE_REFERENCE)


def _costs(
    model: np.ndarray, input_tokens: np.ndarray, output_tokens: np.ndarray, ts: np.ndarray
) -> np.ndarray:
    """USD cost of each request at its own time, identical to ``price_requests`` for the demo
    models (prices change by date and, for some models, by time of day)."""
    cost = np.empty(len(model), dtype=np.float64)
    regime = _price_regime(ts)
    keys, inverse = np.unique(regime, return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    bounds = np.flatnonzero(np.diff(inverse[order])) + 1
    for key, rows in zip(keys, np.split(order, bounds) if len(order) else [], strict=True):
        per_in, per_out = _unit_prices_at(_regime_time(int(key)))
        m = model[rows]
        cost[rows] = input_tokens[rows].astype(np.float64) * per_in[m]
        cost[rows] += output_tokens[rows].astype(np.float64) * per_out[m]
    return cost


@lru_cache(maxsize=1)
def _price_edges() -> tuple[bool, np.ndarray]:
    """Whether any demo model's price changes by date, and every time-of-day price edge."""
    regimes = [_regimes(m[0]) for m in MODELS]
    if any(r is None for r in regimes):
        raise RuntimeError("a demo model is unknown to the price table")
    edges = sorted({e for r in regimes for e in r[1]})  # type: ignore[index]
    return any(r[0] for r in regimes), np.array(edges, dtype=np.int64)  # type: ignore[index]


def _price_regime(ts: np.ndarray) -> np.ndarray:
    """A key per request that changes wherever some demo model's price may change."""
    dated, edges = _price_edges()
    key = np.searchsorted(edges, ts % _DAY_NS, side="right").astype(np.int64)
    if dated:
        key += (ts // _DAY_NS) * (len(edges) + 1)
    return key


def _regime_time(key: int) -> int:
    """A moment inside the price regime ``key`` (see `_price_regime`)."""
    dated, edges = _price_edges()
    day, part = divmod(key, len(edges) + 1) if dated else (_PRICE_REFERENCE // _DAY_NS, key)
    start = 0 if part == 0 else int(edges[part - 1])
    return day * _DAY_NS + start


def _expected_costs(work: _Workloads) -> np.ndarray:
    """Mean USD cost of a request of each workload."""
    per_in, per_out = _unit_prices()
    mean_in = np.exp(work.mu_in + work.sd_in.astype(np.float64) ** 2 / 2)
    mean_out = np.exp(work.mu_out + work.sd_out.astype(np.float64) ** 2 / 2)
    return mean_in * per_in[work.model] + mean_out * per_out[work.model]


def _runaway_times(
    rng: np.random.Generator,
    user: np.ndarray,
    t: np.ndarray,
    workload: np.ndarray,
    window: _Window,
    anomaly: int,
    work: _Workloads,
) -> np.ndarray:
    """Times of a runaway batch job in the last 2-3 days, sized to put its owner near the top.

    ``user``, ``t`` and ``workload`` are the everyday requests, grouped by user.
    """
    duration = int(min(rng.uniform(2.2, 2.8), window.days / 3) * _DAY_US)
    expected = _expected_costs(work)
    recent = t > window.hi - 7 * _DAY_US
    week_cost = np.bincount(
        user[recent], weights=expected[workload[recent]], minlength=len(work.cum_weight)
    )
    extra_cost = max(float(week_cost.max()) * rng.uniform(0.9, 1.4) - week_cost[anomaly], 0.0)
    by_cost = int(np.ceil(extra_cost / expected[anomaly * _WIDTH + _SLOTS]))
    # And at least 15 times the user's usual day, whatever the costs.
    lo, hi = np.searchsorted(user, [anomaly, anomaly + 1])
    n_before = max((window.hi - duration - window.lo) // _DAY_US, 1)
    mine = t[lo:hi] - window.lo - 1  # 0 .. days * _DAY_US - 1
    mine = mine[mine < n_before * _DAY_US]
    usual = max(float(np.median(np.bincount(mine // _DAY_US, minlength=n_before))), 1.0)
    # A script in a loop: at least one call every few seconds, so a live page sees it move.
    n = max(by_cost, int(15 * usual * duration / _DAY_US) + 20, duration // (_RUNAWAY_GAP_S * 10**6))
    return window.hi - (rng.random(n) * duration).astype(np.int64)


def _in_time_order(t: np.ndarray, workload: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both sorted by time, then workload: one fast sort of packed 64-bit keys where they fit."""
    w_bits = max(int(workload.max()).bit_length(), 1) if len(workload) else 1
    if len(t) and int(t.max()).bit_length() + w_bits <= 64:
        key = t.astype(np.uint64)
        key <<= np.uint64(w_bits)
        key |= workload.astype(np.uint64)
        key.sort()  # whole values: the result cannot depend on the sorting algorithm
        workload = (key & np.uint64((1 << w_bits) - 1)).astype(np.int32)
        key >>= np.uint64(w_bits)
        return key.astype(np.int64), workload
    order = np.lexsort((workload, t))  # same order, for periods too long to pack
    return t[order], workload[order]


@dataclass(frozen=True)
class _Requests:
    """Aligned per-request columns in time order, as integer codes where categorical."""

    ts: np.ndarray
    user: np.ndarray
    key: np.ndarray
    model: np.ndarray
    tag_set: np.ndarray
    input_tokens: np.ndarray
    output_tokens: np.ndarray
    cost: np.ndarray


def _traffic(
    rng: np.random.Generator,
    people: _People,
    window: _Window,
    anomaly: int,
    work: _Workloads,
) -> tuple[_Requests, int]:
    """Every request in time order (everyday work and the runaway job), and when the job began."""
    user, t = _base_requests(rng, people, window, anomaly)
    slot = _pick(rng, user, work.cum_weight)  # fast while rows are grouped by user
    workload = (user * _WIDTH + slot).astype(np.int32)
    del slot
    burst = _runaway_times(rng, user, t, workload, window, anomaly, work)
    del user
    t, workload = _in_time_order(
        np.concatenate([t, burst]),
        np.concatenate([workload, np.full(len(burst), anomaly * _WIDTH + _SLOTS, np.int32)]),
    )
    t *= 1000
    t += window.grid_start  # now ns since the epoch
    model = work.model[workload]
    tag_set = work.tag_set[workload]
    ad_hoc = rng.random(len(t), dtype=np.float32) < 0.03  # calls made without tags
    tag_set[ad_hoc & (workload % _WIDTH != _SLOTS)] = 0
    inp, out = _tokens(rng, workload, work)
    requests = _Requests(
        ts=t,
        user=workload // _WIDTH,
        key=work.key[workload],
        model=model,
        tag_set=tag_set,
        input_tokens=inp,
        output_tokens=out,
        cost=_costs(model, inp, out, t),
    )
    return requests, window.grid_start + int(burst.min()) * 1000


# --------------------------------------------------------------------------------------------
# Assembly
# --------------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _hex_quads() -> np.ndarray:
    """For each 16-bit value, its four hex digits as the bytes of one little-endian uint32."""
    value = np.arange(1 << 16)
    nibbles = np.stack([(value >> shift) & 15 for shift in (12, 8, 4, 0)], axis=1)
    digits = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)[nibbles]
    return np.ascontiguousarray(digits).view("<u4").ravel()


def _request_ids(rng: np.random.Generator, n: int) -> pd.arrays.ArrowStringArray:
    """``n`` distinct ids like 'req_3f9a0c1be27d4a58' (a seeded bijection of 0..n-1), vectorised."""
    with np.errstate(over="ignore"):  # splitmix64's finaliser: a bijection of 64-bit integers
        z = np.arange(n, dtype=np.uint64) + np.uint64(rng.integers(0, 2**63))
        z ^= z >> np.uint64(30)
        z *= np.uint64(0xBF58476D1CE4E5B9)
        z ^= z >> np.uint64(27)
        z *= np.uint64(0x94D049BB133111EB)
        z ^= z >> np.uint64(31)
    # 20 bytes per id, written as five uint32: b"req_" and four groups of four hex digits
    text = np.empty((n, 5), dtype="<u4")
    text[:, 0] = np.frombuffer(b"req_", dtype="<u4")[0]
    quads = _hex_quads()
    block = 1 << 20  # rows at a time, to keep the temporaries small
    for lo in range(0, n, block):
        part = z[lo : lo + block]
        for k in range(4):
            word = (part >> np.uint64(48 - 16 * k)) & np.uint64(0xFFFF)
            text[lo : lo + block, 1 + k] = quads[word.astype(np.intp)]
    offsets = np.arange(0, (n + 1) * 20, 20, dtype=np.int64)
    ids = pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(text))
    # pandas stores "string[pyarrow]" as large_string: built directly, nothing to cast
    return pd.arrays.ArrowStringArray(pa.chunked_array([ids]))


def _tag_column(
    tag_sets: np.ndarray, tag_set: np.ndarray, vocabulary: list[str]
) -> pd.arrays.ArrowExtensionArray:
    """The list<string> tags column: each row's tag set, built by Arrow's take."""
    lengths = (tag_sets >= 0).sum(axis=1)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    values = pa.array(vocabulary, type=pa.string()).take(pa.array(tag_sets[tag_sets >= 0]))
    table = pa.ListArray.from_arrays(pa.array(offsets), values)
    chunks = [
        table.take(pa.array(tag_set[lo : lo + _CHUNK_ROWS].astype(np.int32)))
        for lo in range(0, max(len(tag_set), 1), _CHUNK_ROWS)
    ]
    return pd.arrays.ArrowExtensionArray(pa.chunked_array(chunks, type=pa.list_(pa.string())))


def _categorical(codes: np.ndarray, labels: np.ndarray | list[str]) -> pd.Categorical:
    """Categorical of ``labels[codes]`` with only the used labels, in alphabetical order."""
    labels = np.asarray(labels, dtype=object)
    used = np.flatnonzero(np.bincount(codes, minlength=len(labels)))
    order = used[np.argsort(labels[used], kind="stable")]
    remap = np.full(len(labels), -1, dtype=np.int32)
    remap[order] = np.arange(len(order), dtype=np.int32)
    return pd.Categorical.from_codes(remap[codes], categories=pd.Index(labels[order], dtype=object))


def _frame(
    rng: np.random.Generator,
    req: _Requests,
    people: _People,
    catalog: _Catalog,
    tag_sets: np.ndarray,
) -> pd.DataFrame:
    """The request log in the canonical schema, from requests in time order."""
    timestamps = pd.DatetimeIndex(req.ts.view("M8[ns]")).tz_localize("UTC")
    columns = {
        "request_id": _request_ids(rng, len(req.ts)),
        "timestamp": timestamps,
        "user_id": _categorical(req.user, people.user_id),
        "user_name": _categorical(req.user, people.name),
        "user_email": _categorical(req.user, people.email),
        "team": _categorical(people.team[req.user], people.team_names),
        "api_key": _categorical(req.key, catalog.keys),
        "model": _categorical(req.model, [m[0] for m in MODELS]),
        "tags": _tag_column(tag_sets, req.tag_set, catalog.tags),
        "input_tokens": req.input_tokens,
        "output_tokens": req.output_tokens,
        "cost": req.cost,
    }
    return pd.DataFrame(columns, copy=False)  # copy=False: no copying into consolidated blocks


def _check_sizes(users: int, days: int, teams: int) -> None:
    """Refuse sizes that are not positive integers."""
    for label, value in (("users", users), ("days", days), ("teams", teams)):
        if int(value) != value or value < 1:
            raise ValueError(f"{label} must be a positive integer, got {value!r}")


def anomaly_user(seed: int = 0, users: int = 250, *, teams: int | None = None) -> str:
    """The ``user_id`` of the runaway script's owner in :func:`demo_log` for the same arguments.

    Examples
    --------
    >>> anomaly_user(0) == demo_log(0, now="2025-06-30").attrs["anomaly_user_id"]
    True
    """
    n_teams = len(TEAMS) if teams is None else teams
    _check_sizes(users, 1, n_teams)
    people, anomaly = _people_and_anomaly(np.random.default_rng(seed), users, n_teams)
    return str(people.user_id[anomaly])


def demo_log(
    seed: int = 0,
    users: int = 250,
    days: int = 90,
    now: pd.Timestamp | datetime | str | None = None,
    *,
    teams: int | None = None,
) -> pd.DataFrame:
    """A synthetic but realistic AI-gateway request log, the same for the same seed and ``now``.

    People with names and e-mails work in teams of uneven size and call 2-4 favourite models
    through their team's service keys or a personal key. Usage is heavy-tailed across people,
    follows working hours and the working week, grows over the period, and starts later for
    people who joined later. In the last 2-3 days one ordinary user's script runs away, calling
    one model through their personal key with the tag ``app:batch-eval`` far more than usual; its
    ``user_id`` is in ``attrs["anomaly_user_id"]`` (also :func:`anomaly_user`). Costs come from
    :func:`usage_widgets.prices.price_requests`.

    Parameters
    ----------
    seed
        Seed of the random generator; the same seed and ``now`` give an identical frame.
    users
        Number of people; each makes about 800 requests in 90 days on average, a few
        power users far more.
    days
        Length of the period, ending at ``now``: timestamps are in ``(now - days, now]``.
    now
        End of the period: a timestamp, datetime or ISO string (naive means UTC); None means
        the current time.
    teams
        Number of teams (default 12); names beyond the built-in ones are generated.

    Returns
    -------
    pandas.DataFrame
        One row per request in the canonical schema (spec section 1), sorted by ``timestamp``,
        with a RangeIndex: ``request_id`` (string[pyarrow], unique), ``timestamp``
        (datetime64[ns, UTC]), categorical ``user_id``, ``user_name``, ``user_email``, ``team``,
        ``api_key`` and ``model``, ``tags`` (Arrow list of ``key:value`` strings),
        ``input_tokens`` and ``output_tokens`` (int64) and ``cost`` (float64 USD).
        ``attrs`` holds ``anomaly_user_id``, ``anomaly_start`` and ``now`` (ISO strings) and
        ``seed``.

    Examples
    --------
    >>> log = demo_log(seed=1, users=40, days=14, now="2025-06-30T12:00Z")
    >>> log.columns.tolist()[:4]
    ['request_id', 'timestamp', 'user_id', 'user_name']
    >>> bool(log["timestamp"].is_monotonic_increasing), log["team"].nunique()
    (True, 12)
    >>> log.attrs["anomaly_user_id"] in set(log["user_id"])
    True
    """
    n_teams = len(TEAMS) if teams is None else teams
    _check_sizes(users, days, n_teams)
    end = _to_utc(now)
    rng = np.random.default_rng(seed)
    people, anomaly = _people_and_anomaly(rng, users, n_teams)
    catalog = _build_catalog(rng, people)
    work = _build_workloads(rng, people, catalog)
    window = _window(end, int(days))
    requests, anomaly_start = _traffic(rng, people, window, anomaly, work)
    log = _frame(rng, requests, people, catalog, work.tag_sets)
    log.attrs.update(
        {
            ANOMALY_ATTR: str(people.user_id[anomaly]),
            # JSON-friendly values, so the frame can be written to Parquet as it is
            "anomaly_start": pd.Timestamp(anomaly_start, tz="UTC").isoformat(),
            "seed": seed,
            "now": end.isoformat(),
        }
    )
    return log
