"""The standup skill's texts in one language (Django's catalogues under locale/; English is the source)."""

from __future__ import annotations

from datetime import date

from django.utils.formats import date_format
from django.utils.translation import gettext, pgettext

from botcore.skills.i18n import in_language


def question_for(language: str, local_hour: int) -> str:
    """The default question, greeting as the hour of the portal's day it goes out at calls for (a question
    asked at 19:00 said "Good morning!"); in the small hours, a greeting that names no time of day."""
    with in_language(language):
        if 5 <= local_hour < 12:
            return gettext(
                "Good morning! What did you do yesterday, what are you planning today, what is blocking you?"
            )
        if 12 <= local_hour < 18:
            return gettext(
                "Good afternoon! What did you do yesterday, what are you planning today, "
                "what is blocking you?"
            )
        if local_hour >= 18:
            return gettext(
                "Good evening! What did you do yesterday, what are you planning today, what is blocking you?"
            )
        return gettext("Hello! What did you do yesterday, what are you planning today, what is blocking you?")


def texts_for(language: str) -> dict[str, str]:
    with in_language(language):
        return {
            "thanks": gettext(
                "Thanks! Your answer goes into today's summary at {time}. "
                "Anything you add before then is included too."
            ),
            "full": gettext(
                "Today's summary has no room for more of your answers (it shows at most {count} characters of"
                " them): this message is not in it. Edit or delete an earlier answer to change what it says."
            ),
            "late": gettext(
                "Your answer came after today's summary was posted at {time}, so it is not in it."
            ),
            "summary_title": gettext("Standup for {day}"),
            "no_answer": gettext("— no answer"),
            "no_standup_yet": gettext("No standup yet today: the question goes out at {time}."),
            "no_standup_today": gettext("No standup today. The next question goes out on {day} at {time}."),
            "ask_refused": gettext(
                "Today's question did not go out: the platform would not show the bot the chat's members "
                "({code}), so the bot is probably not in the chat any more. Add it to the chat again, or "
                "pick another chat in the standup's settings."
            ),
            "reported": gettext(
                "Today's summary is posted in the chat: {answered} of {total} answered. "
                "The next question goes out on {day} at {time}."
            ),
            "status": gettext(
                "Today's standup: {answered} of {total} answered. The summary is posted at {time}."
            ),
        }


def day_text(day: date, language: str) -> str:
    """A day as a sentence in `language` names it ("March 5", "5 марта"), never an ISO date."""
    with in_language(language):
        # Translators: a Django date format for a day named in a sentence: "F j" is "March 5"; Russian "j E"
        # is "5 марта" (E: the month's name as a date takes it).
        return date_format(day, pgettext("standup day, a Django date format", "F j"))
