"""Django system checks of botcore's settings (every manage.py command runs them: qcluster, runpacer…).

Each BOTCORE_SKILLS item that cannot be loaded is an error naming the item and the fix; a lease, task timeout
and cycle deadline out of order is an error before any cycle can overlap another, as is a bot code the
platform would refuse (or one of its derived codes); in production (`check --deploy`), a platform address or
app key left at the embedded default is a warning.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from django.conf import settings
from django.core import checks

from botcore import conf
from botcore.errors import SkillConfigError
from botcore.services.bot_codes import find_code_doubt, find_code_problem
from botcore.skills.registry import configured_skills, find_skill_problems

HINTS = {
    "import": (
        "Fix the dotted path (module.ClassName) in BOTCORE_SKILLS, in the settings or the BOTCORE_SKILLS "
        "environment variable, or install the package that provides it (pip install -e <path>)."
    ),
    "duplicate": "Keep one of them in BOTCORE_SKILLS, or give one skill another `name`.",
    "declaration": (
        "Fix the skill class's declarations; docs/skills.md (section 2, declaring what a skill handles) says"
        " what each takes."
    ),
    "broken": (
        "The module is there but fails while it is imported: fix the error at the place named (python -c"
        ' "import <module>" shows the whole trace); every skill of that module waits on it.'
    ),
    "entry_point": (
        "Name the entry point as the skill's `name` in its package's pyproject"
        ' ([project.entry-points."vibeapp.skills"]), or list the class\'s dotted path instead.'
    ),
}


@checks.register(
    checks.Tags.compatibility
)  # tagged, so the qcluster and poller run it (vibeapp/start_checks.py)
def check_skills(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Load BOTCORE_SKILLS as the bot does; report every item it refuses instead of a traceback at boot."""
    try:
        configured_skills()  # loaded once per process: the bot then finds them loaded
    except SkillConfigError:
        return [_skill_error(problem) for problem in find_skill_problems()]
    return []


def _skill_error(problem: SkillConfigError) -> checks.CheckMessage:
    return checks.Error(
        str(problem).removeprefix("BOTCORE_SKILLS: "),  # the check's object already names the setting
        hint=HINTS[problem.kind],
        obj="settings.BOTCORE_SKILLS",
        id=f"botcore.E00{1 + list(HINTS).index(problem.kind)}",
    )


@checks.register(checks.Tags.compatibility)
def check_cycle_timing(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Two cycles never share a bot only while lease > task timeout > cycle deadline."""
    return [
        checks.Error(problem, hint="Raise BOTCORE_LEASE_SECONDS or lower VIBE_Q_TIMEOUT.", id="botcore.E010")
        for problem in conf.check_cycle_timing()
    ]


@checks.register(checks.Tags.compatibility)
def check_bot_code(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """A BOTCORE_BOT_CODE no bot can have (empty, or past what the row holds) fails every portal's
    provisioning for good, each a broken bot found one by one: an error, so no process starts with it. One
    the platform might refuse (the reference gives no rule beyond CODE_REQUIRED) is a warning."""
    code = conf.bot_code()
    hint = (
        "Set BOTCORE_BOT_CODE in the settings to a code such as vibe_bot. Only before the first portal"
        " installs: another code gives every portal a new bot (docs/operators.md, Bot codes)."
    )
    if (problem := find_code_problem(code)) is not None:
        return [
            checks.Error(
                f"BOTCORE_BOT_CODE {code!r} {problem}.",
                hint=hint,
                obj="settings.BOTCORE_BOT_CODE",
                id="botcore.E014",
            )
        ]
    if (doubt := find_code_doubt(code)) is not None:
        return [
            checks.Warning(
                f"BOTCORE_BOT_CODE {code!r} {doubt}.",
                hint=hint,
                obj="settings.BOTCORE_BOT_CODE",
                id="botcore.W014",
            )
        ]
    return []


@checks.register(checks.Tags.compatibility)
def check_platform_address(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """A VIBE_BASE_URL no HTTP client can call (another scheme, a typo such as htps://, no host) fails every
    call of every bot, each retried as a passing failure and backed off on its own: refused here, no process
    starts with it."""
    url = conf.vibe_base_url()
    parts = urlsplit(url)
    if parts.scheme in ("http", "https") and parts.hostname:
        return []
    return [
        checks.Error(
            f"VIBE_BASE_URL {url!r} is no http:// or https:// address with a host.",
            hint="Set VIBE_BASE_URL to the platform's API address, e.g. https://vibecode.bitrix24.tech/v1.",
            obj="settings.VIBE_BASE_URL",
            id="botcore.E015",
        )
    ]


@checks.register(checks.Tags.compatibility, deploy=True)
def check_platform_settings(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Production left on the embedded default's platform would call this machine (the sandbox's address)
    and, without the app's key, could use no portal session: each runs, and fails only per portal."""
    if not getattr(settings, "IS_PRODUCTION", False):
        return []
    problems: list[checks.CheckMessage] = []
    if _is_this_machine(conf.vibe_base_url()):
        problems.append(
            checks.Warning(
                f"VIBE_BASE_URL is {conf.vibe_base_url()}, this machine: the embedded default's sandbox.",
                hint="Set VIBE_BASE_URL to the platform's API address, e.g. https://vibecode.bitrix24.tech/v1.",
                id="botcore.W011",
            )
        )
    if not conf.vibe_app_key():
        problems.append(
            checks.Warning(
                "VIBE_APP_KEY is not set: no portal session can be used, only portals' personal keys.",
                hint="Set VIBE_APP_KEY to the app's vibe_app_ key from the VibeCode catalog.",
                id="botcore.W012",
            )
        )
    return problems


@checks.register(checks.Tags.compatibility)
def check_previous_app_key(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """VIBE_APP_KEY_PREVIOUS keeps the bots of the app's key before a rotation answering with it; set to the
    current key, or to something that is no app key, it keeps none, and the old bots are refused to the new
    key as if it were unset (docs/operators.md, Key rotation)."""
    previous = conf.vibe_app_key_previous()
    if not previous:
        return []
    if previous == conf.vibe_app_key():
        problem = "VIBE_APP_KEY_PREVIOUS is the same key as VIBE_APP_KEY: no bot is kept on the key before."
    elif not previous.startswith("vibe_app_"):
        problem = "VIBE_APP_KEY_PREVIOUS is not a vibe_app_ key: no bot is kept on the key before."
    else:
        return []
    return [
        checks.Warning(
            problem,
            hint="Set it to the app's key before the rotation (VIBE_APP_KEY is the new one), or unset it.",
            id="botcore.W013",
        )
    ]


def _is_this_machine(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
