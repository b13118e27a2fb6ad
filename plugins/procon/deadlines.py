"""The CDC deadlines a complaint may meet, as pure rules on dates.

Lei nº 8.078/1990 (Código de Defesa do Consumidor, CDC):

- art. 49: a purchase made outside the shop (internet, phone, at home) may be withdrawn
  within 7 days from the signature or from the **receipt** of the product or service;
- art. 26, I and II: apparent defects are claimed within 30 days (non-durable) or
  90 days (durable), counted from the **delivery** or the end of the service (§1); for a
  hidden defect, from the day it **becomes evident** (§3); §2, I: a documented complaint
  to the supplier suspends the deadline until the supplier's clear refusal;
- art. 27: damage caused by a product or service (fato do produto ou do serviço):
  5 years from the knowledge of the damage and of who caused it;
- art. 18, §1: the supplier has 30 days to fix a defect; after that the consumer chooses
  replacement, a corrected refund, or a proportional price reduction.

Days are counted leaving out the first and including the last (Código Civil, art. 132):
a product received on 1 March can be withdrawn until 8 March. These functions say only
whether a deadline has *plainly* passed; the legal analysis belongs to the PROCON staff.
"""

from __future__ import annotations

import datetime as dt

WITHDRAWAL_DAYS = 7  # CDC art. 49
DEFECT_DAYS = (30, 90)  # CDC art. 26, I (non-durable) and II (durable)
DAMAGE_YEARS = 5  # CDC art. 27
REPAIR_DAYS = 30  # CDC art. 18, §1


def withdrawal_passed(received: dt.date, today: dt.date) -> bool:
    """Whether the 7 days of CDC art. 49, counted from the receipt, are over."""
    return (today - received).days > WITHDRAWAL_DAYS


def defect_passed(evident: dt.date, today: dt.date, *, complained: bool) -> bool:
    """Whether even the longest deadline of CDC art. 26 (90 days, durable goods) is over,
    counted from the day the defect became evident (§3; an apparent defect is evident on
    delivery, §1). A documented complaint to the supplier suspends it (§2, I): then
    nothing has plainly passed."""
    return not complained and (today - evident).days > DEFECT_DAYS[1]


def damage_passed(known: dt.date, today: dt.date) -> bool:
    """Whether the 5 years of CDC art. 27, counted from the knowledge of the damage,
    are over (a 29 February is counted to 28 February)."""
    try:
        last = known.replace(year=known.year + DAMAGE_YEARS)
    except ValueError:  # 29 February into a common year
        last = dt.date(known.year + DAMAGE_YEARS, 2, 28)
    return today > last
