"""Small word lists the value reader leans on: names, places, and what field names mean.

Deliberately small (a few hundred words, data only): enough to tell "John Smith" (a person)
from "Paris" (a place) from "Where" (a sentence's first word), and a field named ``city``
from one named ``email``. A capitalised phrase outside these lists is still read (as a
``proper`` span, or a place after "in" / "from"); the lists only sharpen the guess.
"""

from __future__ import annotations

__all__ = [
    "COUNTRY_NAMES",
    "FIELD_CLASSES",
    "FIELD_CUES",
    "FIRST_NAMES",
    "HONORIFICS",
    "LABEL_HINTS",
    "PLACE_NAMES",
    "PLACE_PREPOSITIONS",
    "PREPOSITIONS",
    "SENTENCE_WORDS",
    "STATE_WORDS",
    "UNIT_CUES",
]


def _set(text: str) -> frozenset[str]:
    return frozenset(text.split())


_FIRST_NAMES = """
    aaron adam ahmed akira alexander ali alice amanda amara amelia amy ana ananya andrea
    andrew angela ann anna anthony arjun ashley ava barbara benjamin betty bob brandon
    brenda brian camille carlos carol carolyn catherine charles charlotte chen cheryl chloe
    christina christine christopher cynthia daniel dave david deborah debra dennis diane
    diego dmitri donald donna dorothy edward elizabeth ella emily emma eric ethan eve
    evelyn fatima frances frank gary george giovanni giulia gloria grace gregory hannah
    hans harper hassan heather heidi helen henry hiroshi ingrid isabella ivan jack jacob
    jacqueline jacques james janet jason jean jeffrey jennifer jerry jessica joan john
    jonathan jose joseph joshua joyce juan judith judy julie justin karen katherine
    kathleen kelly kenji kenneth kevin kimberly klaus kwame kyle larry lars laura lauren
    leila lena leo li liam lily linda lisa luc luca lucas lucia lucy luis mallory marco
    margaret maria marie mark martha mary matthew max megan mei melissa mia michael
    michelle miguel ming nancy natasha nathan nicholas nicole noah nora olga oliver olivia
    omar oscar pablo pamela patricia patrick paul peggy peter pierre priya rachel raj
    raymond rebecca richard robert ronald ruth ryan samantha samuel sandra sara sarah scott
    sharon shirley sofia sophia sophie stephanie stephen steven susan sven thomas timothy
    trent tyler victoria virginia walter wei william yuki zachary zoe
"""
FIRST_NAMES = frozenset(_FIRST_NAMES.split())
"""Common first names (lower case): a capitalised word among them starts a person's name."""

_HONORIFICS = "mr mr. mrs mrs. ms ms. miss dr dr. prof prof. sir madam"
HONORIFICS = frozenset(_HONORIFICS.split())

_PLACE_WORDS = """
    africa america amsterdam argentina asia athens atlanta auckland austin australia
    austria bangalore bangkok barcelona beijing belgium berlin boston brazil britain
    brussels budapest cairo canada casablanca chicago chile china colombia copenhagen
    dallas delhi denmark denver detroit dubai dublin edinburgh egypt england europe finland
    florence france geneva germany greece hamburg helsinki houston india indonesia ireland
    istanbul italy jakarta japan johannesburg karachi kenya korea kyiv kyoto lagos lisbon
    london lyon madrid manchester manila marseille melbourne mexico miami milan montreal
    morocco moscow mumbai munich nairobi naples netherlands nigeria norway osaka oslo paris
    peru philadelphia philippines phoenix poland portland porto portugal prague rome russia
    scotland seattle seoul seville shanghai singapore spain stockholm sweden switzerland
    sydney thailand tokyo toronto turkey ukraine usa vancouver venice vienna vietnam wales
    warsaw washington zurich
"""
_PLACE_PHRASES = (
    "buenos aires|"
    "cape town|"
    "hong kong|"
    "kuala lumpur|"
    "las vegas|"
    "los angeles|"
    "mexico city|"
    "new delhi|"
    "new orleans|"
    "new york|"
    "new zealand|"
    "rio de janeiro|"
    "san diego|"
    "san francisco|"
    "sao paulo|"
    "south africa|"
    "south korea|"
    "tel aviv|"
    "united kingdom|"
    "united states"
)
PLACE_NAMES = frozenset(_PLACE_WORDS.split()) | frozenset(_PLACE_PHRASES.split("|"))
_COUNTRY_WORDS = """
    argentina australia austria belgium brazil britain canada chile china colombia denmark
    egypt england finland france germany greece india indonesia ireland italy japan kenya
    korea mexico morocco netherlands nigeria norway peru philippines poland portugal russia
    scotland spain sweden switzerland thailand turkey ukraine usa vietnam wales
"""
_COUNTRY_PHRASES = "united states|united kingdom|new zealand|south africa|south korea"
COUNTRY_NAMES = frozenset(_COUNTRY_WORDS.split()) | frozenset(_COUNTRY_PHRASES.split("|"))
"""Lower-case countries (a ``country`` field prefers them, a ``city`` field does not)."""
"""Lower-case places, single words and whole phrases."""

_PLACE_PREPOSITIONS = "around at from in into near to toward towards via visiting"
PLACE_PREPOSITIONS = frozenset(_PLACE_PREPOSITIONS.split())

_SENTENCE_WORDS = """
    convert schedule remind calculate compute fetch buy pay open close start stop run
    translate summarize classify
    a about add after also an and answer api april are at august before book but by call
    can cancel check classify could create csv customer dear december delete did do does
    email email: english extract february find for friday from get give he hello here hey
    hi how html i i'm if in invoice is it january json july june just let list look look-up
    lookup make march markdown may me might monday my name no note november now october of
    ok okay on or order our please reply respond return saturday search send september set
    shall she should show so summarize sunday tell thank thanks that the then there these
    they this those thursday ticket to today tomorrow translate tuesday update use user was
    we wednesday were what what's whats when where where's which who whom whose why will
    with would xml yaml yes yesterday you your
"""
SENTENCE_WORDS = frozenset(_SENTENCE_WORDS.split())
"""Capitalised at a sentence's start but not names (left off a capitalised phrase)."""

# What a field's name says it holds: class -> words of field names (matched word by word).
FIELD_CLASSES: dict[str, frozenset[str]] = {
    "person": _set(
        "assignee attendee author client contact customer employee first full fullname guest last "
        "member name owner passenger patient person recipient sender student user username who"
    ),
    "place": _set(
        "address airport arrival capital city country departure destination from location origin "
        "place region state to town venue where"
    ),
    "email": _set("email emails mail"),
    "url": _set("homepage href link links site uri url urls website"),
    "date": _set("birth birthday born date day deadline dob due end since start until when"),
    "datetime": _set("datetime timestamp created updated scheduled"),
    "time": _set("time hour clock"),
    "phone": _set("cell mobile phone tel telephone"),
    "identifier": _set(
        "account booking case code confirmation id identifier ids invoice key no number order ref "
        "reference serial sku ticket tracking"
    ),
    "status": _set("status state stage condition"),
    "code": _set("currency ticker symbol iata airport code lang language unit"),
    "number": _set(
        "age amount balance budget cost count days distance duration height hours length limit "
        "minutes n num number percent percentage price qty quantity rating salary score size temp "
        "temperature total value weight year years"
    ),
    "text": _set(
        "answer body comment content description explanation input issue keywords message note "
        "notes problem prompt query question reason request response search subject summary text "
        "title topic"
    ),
    "list": _set(
        "categories features hobbies ingredients interests items keywords labels languages list "
        "skills tag tags topics"
    ),
}

STATE_WORDS = _set(
    "pending open closed active inactive delayed shipped delivered cancelled canceled refunded "
    "processing failed complete completed returned approved rejected paid unpaid overdue "
    "available unavailable lost resolved unresolved blocked done started stopped running "
    "scheduled confirmed expired suspended draft published archived"
)
"""Words that state where a thing stands (an order's ``status``: "shipped")."""

# Words a field's name implies before its value (origin: "from Lisbon"); prepositions among
# a field's words are matched only right before a value.
FIELD_CUES: dict[str, frozenset[str]] = {
    "origin": _set("from departing leaving"),
    "departure": _set("from departing leaving"),
    "source": _set("from"),
    "sender": _set("from"),
    "destination": _set("to arriving into"),
    "arrival": _set("to arriving"),
    "target": _set("to into"),
    "recipient": _set("to"),
}
PREPOSITIONS = _set("from to into in at on by for via with")

# Words near a number that say which field it fills (field word -> cue words).
UNIT_CUES: dict[str, frozenset[str]] = {
    "age": _set("age aged old year years"),
    "year": _set("born in since year"),
    "price": _set("$ cost costs dollars eur euros paid pay price usd £ €"),
    "amount": _set("$ amount charged dollars eur euros paid pay refund usd £ €"),
    "total": _set("dollars eur sum total usd"),
    "quantity": _set("copies items pieces qty quantity tickets units"),
    "count": _set("count items pieces times units"),
    "temperature": _set("celsius degrees fahrenheit temperature"),
    "rating": _set("out rated rating stars"),
    "score": _set("points rated score"),
    "minutes": _set("min mins minutes"),
    "hours": _set("hour hours hrs"),
    "days": _set("day days night nights"),
    "percent": _set("% percent"),
    "guests": _set("adults guests people persons"),
    "people": _set("guests people persons"),
}

# Words that point at common labels (support triage, sentiment, units): label -> words.
LABEL_HINTS: dict[str, frozenset[str]] = {
    "billing": _set(
        "bill billed card charge charged invoice money overcharged paid payment price receipt "
        "refund subscription"
    ),
    "bug": _set(
        "broken bug crash crashed crashes error errors exception failed failing fails freezes "
        "glitch wrong"
    ),
    "feature": _set(
        "add allow could dark export feature like mode option please request suggestion support "
        "wish would"
    ),
    "positive": _set(
        "amazing best excellent fantastic good great happy love loved perfect recommend wonderful"
    ),
    "negative": _set(
        "angry awful bad broken disappointed hate hated horrible poor terrible useless worst"
    ),
    "neutral": _set("arrived average fine okay ordinary"),
    "yes": _set("correct indeed right true yes"),
    "no": _set("false never no not wrong"),
    "urgent": _set("asap critical emergency immediately now urgent"),
    "c": _set("celsius centigrade"),
    "f": _set("fahrenheit"),
    "celsius": _set("c centigrade metric"),
    "fahrenheit": _set("f imperial"),
    "metric": _set("celsius kilometres kilometers km kg metres meters"),
    "imperial": _set("fahrenheit miles pounds lbs feet inches"),
    "spam": _set("click free money offer prize win winner"),
    # Routing labels (support desks, inboxes).
    "support": _set(
        "access account broken cannot help issue locked login password problem reset sign "
        "stuck trouble"
    ),
    "sales": _set("buy demo discount licence license plan plans pricing purchase quote seats"),
    "hr": _set("benefits hiring holiday leave payroll salary vacation"),
    "shipping": _set("arrive arrived courier delivery package parcel shipment shipped tracking"),
    "legal": _set("compliance contract gdpr lawsuit legal terms"),
    "ham": _set("meeting thanks tomorrow lunch"),
}
