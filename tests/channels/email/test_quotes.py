"""Quoted history and signatures are taken away before the NLU reads a mail, as real clients write them."""

from __future__ import annotations

import pytest

from bot.channels.email.quotes import strip_reply

NEW = "Где мой заказ? Номер 12345."

SHOP = "Магазин <shop@example.com>"
CLIENTS = {  # what each client puts below the new words
    "gmail ru": f"пн, 5 янв. 2027 г. в 10:00, {SHOP}:\n\n> Здравствуйте!\n> Чем помочь?\n",
    "gmail en": f"On Mon, Jan 5, 2027 at 10:00 AM {SHOP} wrote:\n\n> Hello!\n",
    "gmail en wrapped": f"On Mon, Jan 5, 2027 at 10:00 AM {SHOP}\nwrote:\n> Hello!\n",
    "yandex": '05.01.2027, 10:00, "Магазин" <shop@example.com>:\n> Здравствуйте!\n',
    "mail.ru": f"\nПонедельник, 5 января 2027, 10:00 +03:00 от {SHOP}:\n\nЗдравствуйте!\n",
    "thunderbird ru": "05.01.2027 10:00, Магазин пишет:\n> Здравствуйте!\n",
    "thunderbird написал": "05.01.2027 10:00, Иван написал(а):\n> старое\n",
    "outlook ru": (
        f"________________________________\nОт: {SHOP}\nОтправлено: 5 января 2027 г. 10:00\n"
        "Кому: Иван\nТема: Заказ\n\nЗдравствуйте!\n"
    ),
    "outlook en": f"From: {SHOP}\nSent: Monday, January 5, 2027 10:00\nTo: Ivan\nSubject: Order\n\nHello!\n",
    "outlook bold": f"*From:* {SHOP}\n*Sent:* Monday\n*To:* Ivan\n\nHello!\n",
    "original message": "-----Original Message-----\nFrom: shop\nold text\n",
    "исходное сообщение": "----- Исходное сообщение -----\nОт: shop\nстарое\n",
    "rfc signature": "-- \nИван Петров\n+7 900 000-00-00\n",
    "iphone": "Sent from my iPhone\n",
    "mail.ru mobile": "Отправлено из мобильной Почты Mail.ru\n",
    "yandex mobile": "Отправлено из мобильного приложения Яндекс Почты\n",
    "closing": "С уважением,\nИван Петров\nООО «Ромашка»\n",
    "closing en": "Best regards,\nIvan\n",
}


@pytest.mark.parametrize("client", sorted(CLIENTS))
def test_only_the_new_words_remain(client: str) -> None:
    assert strip_reply(f"{NEW}\n\n{CLIENTS[client]}") == NEW


def test_windows_line_ends() -> None:
    text = f"{NEW}\r\n\r\nOn Mon, Jan 5, 2027 at 10:00 {SHOP} wrote:\r\n> Hi\r\n"
    assert strip_reply(text) == NEW


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
        "------ Forwarded message -----\nFrom: Банк <bank@x.ru>\nDate: Mon\nSubject: Чек\n\nОплата 1000 р.",
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
