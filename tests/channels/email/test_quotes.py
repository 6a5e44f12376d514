"""Quoted history and signatures are taken away before the NLU reads a mail, as real clients write them."""

from __future__ import annotations

import pytest

from bot.channels.email.quotes import strip_reply

NEW = "Где мой заказ? Номер 12345."

CLIENTS = {
    "gmail ru": "Где мой заказ? Номер 12345.\n\nпн, 5 янв. 2027 г. в 10:00, Магазин <shop@example.com>:\n\n> Здравствуйте!\n> Чем помочь?\n",
    "gmail en": "Где мой заказ? Номер 12345.\n\nOn Mon, Jan 5, 2027 at 10:00 AM Shop <shop@example.com> wrote:\n\n> Hello!\n",
    "gmail en wrapped": "Где мой заказ? Номер 12345.\n\nOn Mon, Jan 5, 2027 at 10:00 AM Shop Support <shop@example.com>\nwrote:\n> Hello!\n",
    "yandex": 'Где мой заказ? Номер 12345.\n\n05.01.2027, 10:00, "Магазин" <shop@example.com>:\n> Здравствуйте!\n',
    "mail.ru": "Где мой заказ? Номер 12345.\n\n\nПонедельник, 5 января 2027, 10:00 +03:00 от Магазин <shop@example.com>:\n\nЗдравствуйте!\n",
    "thunderbird ru": "Где мой заказ? Номер 12345.\n\n05.01.2027 10:00, Магазин пишет:\n> Здравствуйте!\n",
    "thunderbird написал": "Где мой заказ? Номер 12345.\n\n05.01.2027 10:00, Иван написал(а):\n> старое\n",
    "outlook ru": (
        "Где мой заказ? Номер 12345.\n\n________________________________\nОт: Магазин <shop@example.com>\n"
        "Отправлено: 5 января 2027 г. 10:00\nКому: Иван\nТема: Заказ\n\nЗдравствуйте!\n"
    ),
    "outlook en": (
        "Где мой заказ? Номер 12345.\n\nFrom: Shop <shop@example.com>\nSent: Monday, January 5, 2027 10:00\n"
        "To: Ivan\nSubject: Order\n\nHello!\n"
    ),
    "outlook bold": (
        "Где мой заказ? Номер 12345.\n\n*From:* Shop <shop@example.com>\n*Sent:* Monday\n*To:* Ivan\n\nHello!\n"
    ),
    "original message": "Где мой заказ? Номер 12345.\n-----Original Message-----\nFrom: shop\nold text\n",
    "исходное сообщение": "Где мой заказ? Номер 12345.\n\n----- Исходное сообщение -----\nОт: shop\nстарое\n",
    "rfc signature": "Где мой заказ? Номер 12345.\n\n-- \nИван Петров\n+7 900 000-00-00\n",
    "iphone": "Где мой заказ? Номер 12345.\n\nSent from my iPhone\n",
    "mail.ru mobile": "Где мой заказ? Номер 12345.\n\nОтправлено из мобильной Почты Mail.ru\n",
    "yandex mobile": "Где мой заказ? Номер 12345.\n\nОтправлено из мобильного приложения Яндекс Почты\n",
    "closing": "Где мой заказ? Номер 12345.\n\nС уважением,\nИван Петров\nООО «Ромашка»\n",
    "closing en": "Где мой заказ? Номер 12345.\n\nBest regards,\nIvan\n",
    "crlf": "Где мой заказ? Номер 12345.\r\n\r\nOn Mon, Jan 5, 2027 at 10:00 Shop <shop@example.com> wrote:\r\n> Hi\r\n",
}


@pytest.mark.parametrize("client", sorted(CLIENTS))
def test_only_the_new_words_remain(client: str) -> None:
    assert strip_reply(CLIENTS[client]) == NEW


def test_inline_answers_keep_the_lines_between_the_quotes() -> None:
    text = "> Какой у вас номер заказа?\n12345\n> Когда удобно получить?\nЗавтра после обеда\n"
    assert strip_reply(text) == "12345\nЗавтра после обеда"


@pytest.mark.parametrize(
    "text",
    [
        "Хочу купить:\n- велосипед\n- шлем\n- замок",  # a list is not a signature
        "Мой друг пишет:\nхочу такой же велосипед",  # "пишет:" in a sentence, no date, no quote
        "Спасибо, всё получил!",  # a thank-you is the message, not a closing
        "Первая строка\nС уважением к вашему времени, прошу ответить быстрее",  # not a closing line
        "---------- Forwarded message ---------\nFrom: Банк <bank@example.com>\nDate: Mon\nSubject: Чек\n\nОплата 1000 р.",
    ],
)
def test_what_the_customer_means_to_send_is_kept(text: str) -> None:
    assert strip_reply(text) == text


def test_a_signature_alone_is_not_taken_for_the_message() -> None:
    assert strip_reply("С уважением,\nИван") == "С уважением,\nИван"  # nothing before it: kept


def test_a_mail_that_only_quotes_is_empty() -> None:
    assert strip_reply("\n> old\n> older\n") == ""


def test_huge_input_is_cut_before_the_rules_run() -> None:
    text = "а" * 300_000
    assert len(strip_reply(text)) == 200_000
