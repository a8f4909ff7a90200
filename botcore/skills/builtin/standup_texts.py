"""The standup skill's texts, per language (English is the fallback)."""

from __future__ import annotations

TEXTS = {
    "en": {
        "question": (
            "Good morning! What did you do yesterday, what are you planning today, what is blocking you?"
        ),
        "thanks": (
            "Thanks! Your answer goes into today's summary at {time}. "
            "Anything you add before then is included too."
        ),
        "summary_title": "Standup for {day}",
        "no_answer": "— no answer",
        "no_standup": "No standup today yet. The question goes out at {time} on standup days.",
        "status": "Today's standup: {answered} of {total} answered. The summary is posted at {time}.",
    },
    "ru": {
        "question": "Доброе утро! Что вы сделали вчера, что планируете сегодня, что вам мешает?",
        "thanks": (
            "Спасибо! Ваш ответ попадёт в сегодняшние итоги в {time}. "
            "Всё, что допишете до этого, тоже войдёт."
        ),
        "summary_title": "Стендап за {day}",
        "no_answer": "— нет ответа",
        "no_standup": "Сегодня стендапа ещё не было. Вопрос приходит в {time} в дни стендапа.",
        "status": "Сегодняшний стендап: ответили {answered} из {total}. Итоги будут в {time}.",
    },
}
