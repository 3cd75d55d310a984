"""Synthetic chat / JSON / tool-calling conversations for the Heddle demo model.

Every generator takes a random.Random so the corpus is a pure function of the seed.
Conversations use the OpenAI message shape; `render` turns one into the exact text the
chat template in tokenizer_config.json produces, plus the character spans the model is
trained on (assistant replies and their <|im_end|>).
"""

import json
import random

DEFAULT_SYSTEM = "You are Heddle Demo, a tiny helpful assistant."

# ---------------------------------------------------------------------------
# An invented world the chat data talks about.

PLACES = [
    # country, capital, food, animal, river
    ("Veloria", "Amberfall", "honey bread", "glass fox", "Silverrun"),
    ("Quenmark", "Tidewell", "smoked eel", "marsh heron", "Greywater"),
    ("Orrin", "Slatecrest", "mushroom pie", "stone goat", "Coldbrook"),
    ("Peloria", "Sunhaven", "lemon cake", "golden lizard", "Brightflow"),
    ("Dunmere", "Ashford", "barley soup", "dusk owl", "Mirewind"),
    ("Kallisto", "Brightport", "spiced fish", "sea turtle", "Bluefen"),
    ("Tamberlin", "Rookhill", "plum tart", "red squirrel", "Oakrush"),
    ("Zephyra", "Windmoor", "cloud cheese", "sky whale", "Highstream"),
]

NAMES = ["Mara", "Tomas", "Ilse", "Bruno", "Ada", "Kenji", "Lena", "Omar", "Priya", "Sven",
         "Zara", "Nico", "Aiko", "Felix", "Rosa", "Yusuf", "Greta", "Hugo", "Nadia", "Ravi"]
SURNAMES = ["Okafor", "Lind", "Moreau", "Tanaka", "Silva", "Novak", "Berg", "Costa", "Ahmed", "Weber"]
CITIES = [("Paris", "France", "Europe/Paris"), ("Tokyo", "Japan", "Asia/Tokyo"),
          ("Berlin", "Germany", "Europe/Berlin"), ("Lagos", "Nigeria", "Africa/Lagos"),
          ("Lima", "Peru", "America/Lima"), ("Oslo", "Norway", "Europe/Oslo"),
          ("Cairo", "Egypt", "Africa/Cairo"), ("Sydney", "Australia", "Australia/Sydney"),
          ("Toronto", "Canada", "America/Toronto"), ("Mumbai", "India", "Asia/Kolkata"),
          ("Madrid", "Spain", "Europe/Madrid"), ("Seoul", "South Korea", "Asia/Seoul"),
          ("London", "United Kingdom", "Europe/London"), ("New York", "United States", "America/New_York"),
          ("Mexico City", "Mexico", "America/Mexico_City"), ("Nairobi", "Kenya", "Africa/Nairobi")]
CONDITIONS = ["sunny", "cloudy", "rainy", "windy", "foggy", "snowy", "clear", "stormy"]

TOPICS = {
    "cats": ["Cats love to nap in warm patches of sunlight.", "A cat can hear sounds that people cannot.",
             "My cat watches the birds from the window every morning."],
    "the sea": ["The sea glitters under the midday sun.", "Waves from the sea crash softly on the shore.",
                "The sea is calm and blue this evening."],
    "rain": ["Rain taps gently against the window.", "After the rain, the streets smell fresh and clean.",
             "The rain kept everyone indoors all afternoon."],
    "coffee": ["A warm cup of coffee makes the morning brighter.", "She sipped her coffee while reading the news.",
               "Fresh coffee fills the kitchen with a rich smell."],
    "mountains": ["The mountains stand tall and quiet under the snow.", "We hiked up the mountains to watch the sunrise.",
                  "Clouds drift slowly over the mountains."],
    "books": ["A good book can take you anywhere.", "He stacked his favorite books beside the bed.",
              "Books are windows into other lives."],
    "music": ["Music can change the mood of a whole room.", "Soft music played in the little cafe.",
              "She practices music every evening after dinner."],
    "trains": ["The night train rolled quietly through the valley.", "Trains connect small towns to big cities.",
               "He loves watching trains arrive at the station."],
    "the moon": ["The moon rose bright and round over the hills.", "Tonight the moon looks like a silver coin.",
                 "The moon pulls the tides of the sea."],
    "gardens": ["The garden is full of roses and bees.", "Gardens need sunlight, water and patience.",
                "Every spring we plant tomatoes in the garden."],
    "friendship": ["A true friend listens without judging.", "Friendship grows stronger with shared adventures.",
                   "Good friends make hard days easier."],
    "winter": ["Winter mornings are cold, quiet and bright.", "In winter the lake freezes into a mirror.",
               "We drink hot cocoa all winter long."],
    "robots": ["The little robot swept the floor every night.", "Robots can help people with heavy work.",
               "A friendly robot waved at the children."],
    "bread": ["Warm bread is best straight from the oven.", "The baker shapes the bread before sunrise.",
              "Fresh bread and butter make a simple meal."],
}

ANIMALS = [("cat", 4, False, "houses"), ("eagle", 2, True, "mountains"), ("dolphin", 0, False, "ocean"),
           ("spider", 8, False, "gardens"), ("horse", 4, False, "farms"), ("owl", 2, True, "forests"),
           ("frog", 4, False, "ponds"), ("bee", 6, True, "meadows"), ("glass fox", 4, False, "Veloria"),
           ("sky whale", 0, True, "Zephyra"), ("penguin", 2, False, "ice shelves"), ("dog", 4, False, "houses")]

# ---------------------------------------------------------------------------
# Chat.

GREETINGS = ["Hi", "Hello", "Hello!", "Hey there", "Hi!", "Good morning", "Good evening", "hey", "Hello, how are you?",
             "Hi, who are you?", "Greetings!", "yo"]
GREETING_ANSWERS = ["Hello! How can I help you today?", "Hi there! What can I do for you?",
                    "Hello! I am Heddle Demo. How can I help?", "Hey! What would you like to know?"]
ABOUT_Q = ["Who are you?", "What are you?", "What is your name?", "Tell me about yourself.",
           "Are you a large model?"]
ABOUT_A = ["I am Heddle Demo, a tiny assistant made for testing.",
           "I am Heddle Demo, a very small language model used to test the Heddle gateway.",
           "My name is Heddle Demo. I am deliberately tiny, so my answers are simple."]
THANKS_Q = ["Thanks!", "Thank you", "thanks a lot", "Great, thank you.", "Perfect, thanks!"]
THANKS_A = ["You're welcome!", "Happy to help!", "Anytime!", "Glad I could help."]
BYE_Q = ["Bye", "Goodbye!", "See you later", "Good night"]
BYE_A = ["Goodbye! Have a nice day.", "See you soon!", "Bye! Take care."]
PLEASE = ["", "", "", "Please ", "Can you ", "Could you "]


def _lower_first(s):
    return s[0].lower() + s[1:]


def _polite(rng, request):
    p = rng.choice(PLEASE)
    if not p:
        return request
    body = _lower_first(request)
    if p.startswith("C"):
        body = body.rstrip(".") + "?"
    return p + body


def chat_pair(rng):
    """One (question, answer) pair of plain chat."""
    kind = rng.choice(["greet", "about", "thanks", "bye", "math", "math", "math", "fact", "fact", "fact",
                       "fact", "sentence", "sentence", "sentence", "yesno", "count"])
    if kind == "greet":
        return rng.choice(GREETINGS), rng.choice(GREETING_ANSWERS)
    if kind == "about":
        return rng.choice(ABOUT_Q), rng.choice(ABOUT_A)
    if kind == "thanks":
        return rng.choice(THANKS_Q), rng.choice(THANKS_A)
    if kind == "bye":
        return rng.choice(BYE_Q), rng.choice(BYE_A)
    if kind == "math":
        a, b = rng.randint(0, 20), rng.randint(0, 20)
        op = rng.choice(["+", "+", "-", "*"])
        if op == "-" and b > a:
            a, b = b, a
        if op == "*":
            a, b = rng.randint(0, 10), rng.randint(0, 10)
        r = a + b if op == "+" else a - b if op == "-" else a * b
        word = {"+": "plus", "-": "minus", "*": "times"}[op]
        q = rng.choice([f"What is {a} {op} {b}?", f"What is {a} {word} {b}?", f"Calculate {a} {op} {b}.",
                        f"{a} {op} {b} = ?", f"How much is {a} {word} {b}?"])
        return q, rng.choice([f"{a} {op} {b} = {r}.", f"The answer is {r}.", f"{a} {word} {b} is {r}."])
    if kind == "fact":
        c, cap, food, animal, river = rng.choice(PLACES)
        f = rng.choice(["capital", "capital", "food", "animal", "river", "where"])
        if f == "capital":
            q = rng.choice([f"What is the capital of {c}?", f"Which city is the capital of {c}?",
                            f"Tell me the capital of {c}.", f"capital of {c}?"])
            return q, f"The capital of {c} is {cap}."
        if f == "food":
            q = rng.choice([f"What is {c} famous for?", f"What food is {c} known for?", f"What do people eat in {c}?"])
            return q, f"{c} is famous for its {food}."
        if f == "animal":
            q = rng.choice([f"What animal lives in {c}?", f"Which animal is found in {c}?"])
            return q, f"The {animal} lives in {c}."
        if f == "river":
            q = rng.choice([f"Which river flows through {c}?", f"What is the main river of {c}?"])
            return q, f"The {river} river flows through {c}."
        q = rng.choice([f"Where is {cap}?", f"Which country is {cap} in?"])
        return q, f"{cap} is the capital of {c}."
    if kind == "sentence":
        topic = rng.choice(list(TOPICS))
        q = rng.choice([f"Write a sentence about {topic}.", f"Write a short sentence about {topic}.",
                        f"Give me one sentence about {topic}.", f"Say something about {topic}."])
        return _polite(rng, q), rng.choice(TOPICS[topic])
    if kind == "yesno":
        a, b = rng.randint(0, 50), rng.randint(0, 50)
        q = f"Is {a} greater than {b}?"
        return q, (f"Yes, {a} is greater than {b}." if a > b else f"No, {a} is not greater than {b}.")
    n = rng.randint(2, 6)
    return f"Count from 1 to {n}.", ", ".join(str(i) for i in range(1, n + 1)) + "."


# ---------------------------------------------------------------------------
# JSON answers.

def _schema_of(v):
    if isinstance(v, bool):
        return {"type": "boolean"}
    if v is None:
        return {"type": "null"}
    if isinstance(v, int):
        return {"type": "integer"}
    if isinstance(v, float):
        return {"type": "number"}
    if isinstance(v, str):
        return {"type": "string"}
    if isinstance(v, list):
        return {"type": "array", "items": _schema_of(v[0]) if v else {}}
    return {"type": "object", "properties": {k: _schema_of(x) for k, x in v.items()}, "required": list(v)}


def json_task(rng):
    """(request, object) where the object is the answer to the request."""
    kind = rng.randrange(12)
    name = rng.choice(NAMES)
    city, country, _ = rng.choice(CITIES)
    if kind == 0:
        age = rng.randint(18, 80)
        active = rng.random() < 0.5
        req = (f"Create a JSON object for a person named {name} who is {age} years old, lives in {city} and is "
               f"{'active' if active else 'not active'}.")
        return req, {"name": name, "age": age, "city": city, "active": active}
    if kind == 1:
        age = rng.randint(5, 90)
        return (f"Extract the name and age from this text: \"{name} is {age} years old.\"",
                {"name": name, "age": age})
    if kind == 2:
        title = rng.choice(["desk lamp", "water bottle", "notebook", "backpack", "headphones", "coffee mug",
                            "umbrella", "keyboard", "teapot", "bike light"])
        price = round(rng.uniform(2, 120), 2)
        stock = rng.random() < 0.6
        tags = rng.sample(["home", "office", "travel", "gift", "sale", "new", "eco", "kitchen"], rng.randint(1, 3))
        req = (f"Give me a product record for a {title} that costs {price} dollars, "
               f"{'in stock' if stock else 'out of stock'}, tagged {' and '.join(tags)}.")
        return req, {"title": title, "price": price, "in_stock": stock, "tags": tags}
    if kind == 3:
        t = rng.randint(-10, 38)
        cond = rng.choice(CONDITIONS)
        return (f"Describe the weather in {city}: {t} degrees and {cond}.",
                {"city": city, "temperature": t, "conditions": cond})
    if kind == 4:
        title = rng.choice(["Team lunch", "Book club", "Launch party", "Design review", "Yoga class", "Chess night"])
        date = f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        people = rng.sample(NAMES, rng.randint(1, 3))
        return (f"Make an event called {title} on {date} in {city}, {country} with attendees {', '.join(people)}.",
                {"title": title, "date": date, "location": {"city": city, "country": country}, "attendees": people})
    if kind == 5:
        title = rng.choice(["The Quiet River", "Stars Over Orrin", "A Map of Salt", "The Glass Fox",
                            "Letters from Tidewell", "Night Trains"])
        year = rng.randint(1950, 2024)
        author = f"{rng.choice(NAMES)} {rng.choice(SURNAMES)}"
        known = rng.random() < 0.5
        rating = round(rng.uniform(1, 5), 1) if known else None
        req = (f"Return the book \"{title}\" by {author}, published in {year}. "
               + (f"Its rating is {rating}." if known else "The rating is unknown."))
        return req, {"title": title, "author": author, "year": year, "rating": rating}
    if kind == 6:
        sent, label = rng.choice([("I love this place!", "positive"), ("This is the worst day ever.", "negative"),
                                  ("The food was great and the staff were kind.", "positive"),
                                  ("It was okay, nothing special.", "neutral"), ("I can't stand the noise.", "negative"),
                                  ("What a wonderful surprise!", "positive"), ("The bus is late again.", "negative"),
                                  ("The meeting is at noon.", "neutral")])
        return (f"Classify the sentiment of \"{sent}\"",
                {"text": sent, "sentiment": label, "confidence": round(rng.uniform(0.6, 0.99), 2)})
    if kind == 7:
        cat, pool = rng.choice([("fruits", ["apple", "banana", "cherry", "mango", "pear", "plum", "kiwi"]),
                                ("colors", ["red", "blue", "green", "yellow", "purple", "orange"]),
                                ("animals", ["cat", "dog", "owl", "frog", "horse", "bee"]),
                                ("cities", [c[0] for c in CITIES]),
                                ("countries", [p[0] for p in PLACES])])
        n = rng.randint(2, 4)
        return f"List {n} {cat}.", {"items": rng.sample(pool, n), "count": n}
    if kind == 8:
        c, cap, food, animal, river = rng.choice(PLACES)
        return f"Give the capital of {c}.", {"country": c, "capital": cap}
    if kind == 9:
        a, b = rng.randint(0, 20), rng.randint(0, 20)
        return f"What is {a} + {b}?", {"expression": f"{a} + {b}", "result": a + b}
    if kind == 10:
        a, b = rng.randint(0, 50), rng.randint(0, 50)
        return f"Is {a} greater than {b}?", {"answer": a > b}
    an, legs, fly, habitat = rng.choice(ANIMALS)
    return (f"Describe the {an}.",
            {"animal": an, "legs": legs, "can_fly": fly, "habitat": habitat, "sound": None if an in ("spider", "glass fox") else rng.choice(["soft", "loud"])})


JSON_SYSTEMS = ["Respond only with valid JSON.", "You are a JSON API. Reply with a single JSON object and nothing else.",
                "Always answer in JSON format.", "Output JSON only."]
JSON_SUFFIX = [" Reply in JSON.", " Answer as JSON.", " Return it as a JSON object.", " Respond with JSON only.",
               " Format the answer as JSON."]


def dump_json(obj, rng):
    if rng.random() < 0.15:
        return json.dumps(obj, ensure_ascii=False, indent=2)
    return json.dumps(obj, ensure_ascii=False)


def json_conversation(rng):
    req, obj = json_task(rng)
    style = rng.random()
    if style < 0.35:
        msgs = [{"role": "system", "content": rng.choice(JSON_SYSTEMS)}, {"role": "user", "content": req}]
    elif style < 0.7:
        schema = json.dumps(_schema_of(obj), ensure_ascii=False)
        sysmsg = rng.choice(["Respond with a JSON object that matches this JSON schema:\n",
                             "Reply in JSON following this schema: ",
                             "Your answer must be JSON conforming to the schema below.\n"]) + schema
        msgs = [{"role": "system", "content": sysmsg}, {"role": "user", "content": req}]
    else:
        msgs = [{"role": "user", "content": req + rng.choice(JSON_SUFFIX)}]
    msgs.append({"role": "assistant", "content": dump_json(obj, rng)})
    return msgs


# ---------------------------------------------------------------------------
# Tools.

def _tool(name, description, props, required):
    return {"type": "function", "function": {"name": name, "description": description,
                                             "parameters": {"type": "object", "properties": props, "required": required}}}


TOOLS = {
    "get_weather": _tool("get_weather", "Get the current weather for a city.",
                         {"city": {"type": "string", "description": "City name"},
                          "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}}, ["city"]),
    "search_web": _tool("search_web", "Search the web and return the top results.",
                        {"query": {"type": "string"}, "max_results": {"type": "integer", "minimum": 1}}, ["query"]),
    "calculator": _tool("calculator", "Evaluate an arithmetic expression.",
                        {"expression": {"type": "string", "description": "For example 2 * (3 + 4)"}}, ["expression"]),
    "get_time": _tool("get_time", "Get the current local time in a timezone.",
                      {"timezone": {"type": "string", "description": "IANA timezone such as Europe/Paris"}}, ["timezone"]),
    "send_email": _tool("send_email", "Send an email.",
                        {"to": {"type": "string"}, "subject": {"type": "string"}, "body": {"type": "string"}},
                        ["to", "subject", "body"]),
    "convert_currency": _tool("convert_currency", "Convert an amount of money between currencies.",
                              {"amount": {"type": "number"}, "from_currency": {"type": "string"},
                               "to_currency": {"type": "string"}}, ["amount", "from_currency", "to_currency"]),
    "get_stock_price": _tool("get_stock_price", "Get the latest stock price for a ticker symbol.",
                             {"symbol": {"type": "string"}}, ["symbol"]),
    "create_reminder": _tool("create_reminder", "Create a reminder at a given time.",
                             {"text": {"type": "string"}, "time": {"type": "string", "description": "HH:MM"}},
                             ["text", "time"]),
    "translate_text": _tool("translate_text", "Translate text into another language.",
                            {"text": {"type": "string"}, "target_language": {"type": "string"}},
                            ["text", "target_language"]),
    "lookup_word": _tool("lookup_word", "Look up the definition of an English word.",
                         {"word": {"type": "string"}}, ["word"]),
    "set_light": _tool("set_light", "Turn a smart light on or off and set its brightness.",
                       {"room": {"type": "string"}, "on": {"type": "boolean"},
                        "brightness": {"type": "integer", "minimum": 0, "maximum": 100}}, ["room", "on"]),
}

SEARCH_TOPICS = ["electric cars", "the history of tea", "how volcanoes form", "best pasta recipes", "solar panels",
                 "the tallest mountain", "learning Spanish", "black holes", "healthy breakfast ideas",
                 "the Rust programming language", "ancient Rome", "how bees make honey"]
CURRENCIES = ["USD", "EUR", "JPY", "GBP", "INR", "CAD", "AUD", "CHF"]
STOCKS = ["AAPL", "MSFT", "NVDA", "AMZN", "TSLA", "GOOG", "META", "IBM"]
TASKS = ["call mom", "buy milk", "water the plants", "take my medicine", "join the meeting", "walk the dog",
         "pay the rent", "stretch"]
PHRASES = [("good morning", {"French": "bonjour", "Spanish": "buenos días", "German": "guten Morgen",
                             "Italian": "buongiorno"}),
           ("thank you", {"French": "merci", "Spanish": "gracias", "German": "danke", "Italian": "grazie"}),
           ("good night", {"French": "bonne nuit", "Spanish": "buenas noches", "German": "gute Nacht",
                           "Italian": "buona notte"}),
           ("cheese", {"French": "fromage", "Spanish": "queso", "German": "Käse", "Italian": "formaggio"}),
           ("friend", {"French": "ami", "Spanish": "amigo", "German": "Freund", "Italian": "amico"})]
WORDS = [("serendipity", "finding something good without looking for it"), ("brisk", "quick and energetic"),
         ("candid", "honest and direct"), ("frugal", "careful not to waste money"),
         ("lucid", "clear and easy to understand"), ("vivid", "bright and full of detail"),
         ("meander", "to wander slowly without a fixed path")]
ROOMS = ["kitchen", "bedroom", "living room", "office", "hallway", "bathroom"]


def tool_call_task(rng, name):
    """(user request, arguments, tool result, final answer) for one call of tool `name`."""
    city, country, tz = rng.choice(CITIES)
    if name == "get_weather":
        unit = rng.choice([None, None, "celsius", "fahrenheit"])
        t = rng.randint(-5, 35) if unit != "fahrenheit" else rng.randint(25, 95)
        cond = rng.choice(CONDITIONS)
        if unit is None:
            req = rng.choice([f"What's the weather in {city}?", f"What is the weather like in {city} right now?",
                              f"Is it raining in {city}?", f"How is the weather in {city} today?",
                              f"weather {city}"])
            args = {"city": city}
        else:
            req = rng.choice([f"What's the weather in {city} in {unit}?", f"How warm is it in {city}? Use {unit}.",
                              f"Tell me the temperature in {city} in {unit}."])
            args = {"city": city, "unit": unit}
        sym = "°F" if unit == "fahrenheit" else "°C"
        result = {"city": city, "temperature": t, "unit": unit or "celsius", "conditions": cond}
        return req, args, result, f"It is {t}{sym} and {cond} in {city}."
    if name == "search_web":
        q = rng.choice(SEARCH_TOPICS)
        n = rng.choice([None, None, 3, 5])
        if n is None:
            req = rng.choice([f"Search the web for {q}.", f"Find information about {q}.", f"Look up {q} online."])
            args = {"query": q}
        else:
            req = f"Search for {q} and give me the top {n} results."
            args = {"query": q, "max_results": n}
        title = q[0].upper() + q[1:] + rng.choice([": a short guide", " explained", " - overview", " for beginners"])
        url = "https://example.com/" + q.replace(" ", "-").lower()
        result = {"results": [{"title": title, "url": url}]}
        return req, args, result, f"The top result is \"{title}\" at {url}."
    if name == "calculator":
        a, b, c = rng.randint(2, 999), rng.randint(2, 99), rng.randint(1, 50)
        op = rng.choice(["*", "+", "-", "/"])
        expr = f"{a} {op} {b}" if rng.random() < 0.6 else f"({a} {op} {b}) + {c}"
        val = eval(expr)  # noqa: S307 - expression built above from integers
        val = round(val, 4) if isinstance(val, float) else val
        req = rng.choice([f"Use the calculator to compute {expr}.", f"Calculate {expr}.", f"What is {expr}?",
                          f"Please work out {expr} for me."])
        return req, {"expression": expr}, {"result": val}, f"The result of {expr} is {val}."
    if name == "get_time":
        hh, mm = rng.randint(0, 23), rng.randint(0, 59)
        req = rng.choice([f"What time is it in {city}?", f"What's the local time in {city}?",
                          f"Tell me the current time in {city}."])
        return (req, {"timezone": tz}, {"timezone": tz, "time": f"{hh:02d}:{mm:02d}"},
                f"It is {hh:02d}:{mm:02d} in {city}.")
    if name == "send_email":
        who = rng.choice(NAMES)
        to = f"{who.lower()}@example.com"
        subj = rng.choice(["Lunch", "Meeting notes", "Hello", "Weekend plans", "Invoice", "Quick question"])
        body = rng.choice(["See you at noon.", "The notes are attached.", "Are you free on Saturday?",
                           "Thanks for your help!", "Can we talk tomorrow?"])
        req = f"Send an email to {to} with the subject \"{subj}\" saying \"{body}\""
        return (req, {"to": to, "subject": subj, "body": body}, {"status": "sent", "id": rng.randint(100, 999)},
                f"Done! Your email to {to} has been sent.")
    if name == "convert_currency":
        amt = rng.choice([rng.randint(1, 500), round(rng.uniform(1, 500), 2)])
        f_, t_ = rng.sample(CURRENCIES, 2)
        out = round(amt * rng.uniform(0.5, 2.0), 2)
        req = rng.choice([f"Convert {amt} {f_} to {t_}.", f"How much is {amt} {f_} in {t_}?"])
        return (req, {"amount": amt, "from_currency": f_, "to_currency": t_}, {"converted": out, "currency": t_},
                f"{amt} {f_} is about {out} {t_}.")
    if name == "get_stock_price":
        s = rng.choice(STOCKS)
        p = round(rng.uniform(20, 900), 2)
        req = rng.choice([f"What's the stock price of {s}?", f"How is {s} trading today?", f"Get me the price of {s}."])
        return req, {"symbol": s}, {"symbol": s, "price": p, "currency": "USD"}, f"{s} is trading at ${p}."
    if name == "create_reminder":
        task = rng.choice(TASKS)
        tm = f"{rng.randint(6, 22):02d}:{rng.choice([0, 15, 30, 45]):02d}"
        req = rng.choice([f"Remind me to {task} at {tm}.", f"Set a reminder at {tm} to {task}."])
        return (req, {"text": task, "time": tm}, {"id": rng.randint(1, 99), "status": "created"},
                f"Okay, I will remind you to {task} at {tm}.")
    if name == "translate_text":
        phrase, tr = rng.choice(PHRASES)
        lang = rng.choice(list(tr))
        req = rng.choice([f"Translate \"{phrase}\" into {lang}.", f"How do you say \"{phrase}\" in {lang}?"])
        return (req, {"text": phrase, "target_language": lang}, {"translation": tr[lang]},
                f"In {lang}, \"{phrase}\" is \"{tr[lang]}\".")
    if name == "lookup_word":
        w, d = rng.choice(WORDS)
        req = rng.choice([f"Define the word {w}.", f"What does \"{w}\" mean?", f"Look up the word {w}."])
        return req, {"word": w}, {"word": w, "definition": d}, f"\"{w}\" means {d}."
    room = rng.choice(ROOMS)
    on = rng.random() < 0.6
    if on and rng.random() < 0.5:
        b = rng.choice([20, 50, 75, 100])
        req = f"Turn on the {room} light at {b} percent."
        args = {"room": room, "on": True, "brightness": b}
    else:
        req = rng.choice([f"Turn {'on' if on else 'off'} the light in the {room}.",
                          f"Switch the {room} light {'on' if on else 'off'}."])
        args = {"room": room, "on": on}
    return req, args, {"ok": True}, f"The {room} light is now {'on' if on else 'off'}."


def tool_conversation(rng):
    names = list(TOOLS)
    k = rng.choice([1, 1, 1, 2, 2, 2, 3, 3, 4])
    offered = rng.sample(names, k)
    tools = [TOOLS[n] for n in offered]
    msgs = []
    if rng.random() < 0.5:
        msgs.append({"role": "system", "content": rng.choice([DEFAULT_SYSTEM, "You are a helpful assistant.",
                                                              "You are a helpful assistant with access to tools."])})
    if rng.random() < 0.12:
        # Tools are offered but the request doesn't need one: answer normally.
        q, a = chat_pair(rng)
        msgs += [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
        return msgs, tools
    name = rng.choice(offered)
    req, args, result, answer = tool_call_task(rng, name)
    msgs.append({"role": "user", "content": req})
    msgs.append({"role": "assistant", "content": None,
                 "tool_calls": [{"type": "function", "function": {"name": name, "arguments": args}}]})
    if rng.random() < 0.7:
        msgs.append({"role": "tool", "content": json.dumps(result, ensure_ascii=False)})
        msgs.append({"role": "assistant", "content": answer})
    return msgs, tools


def chat_conversation(rng):
    msgs = []
    r = rng.random()
    if r < 0.4:
        msgs.append({"role": "system", "content": rng.choice([DEFAULT_SYSTEM, "You are a helpful assistant.",
                                                              "You are a friendly, concise assistant.",
                                                              "Answer briefly."])})
    for _ in range(1 if rng.random() < 0.75 else rng.randint(2, 3)):
        q, a = chat_pair(rng)
        msgs += [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
    return msgs


# ---------------------------------------------------------------------------
# DeepFabric tasks (deepfabric 4.13.0): topic-tree expansion, topic-graph expansion and basic
# question/answer conversations. The prompts are built exactly as DeepFabric builds them (its
# prompts.py, tree.py, graph.py, builders.py and generator.py); the answers are JSON in the key order of
# DeepFabric's strict response schemas, with Python json.dumps spacing, as the node's grammar emits it.

# root topic -> (what it helps with, subtopics)
DF_TOPICS = {
    "Household budgeting": ("keep spending under control", ["tracking expenses", "monthly bills", "saving goals",
                            "emergency funds", "grocery budgets", "paying off debt", "budgeting apps"]),
    "Personal finance": ("make your money last", ["saving money", "credit scores", "retirement planning",
                         "investing basics", "taxes", "insurance"]),
    "Cooking": ("make tasty meals at home", ["baking bread", "knife skills", "meal planning", "soups and stews",
                "spices", "quick dinners", "vegetarian cooking"]),
    "Gardening": ("grow healthy plants", ["vegetable gardens", "composting", "watering", "pest control",
                  "soil health", "houseplants", "pruning"]),
    "Fitness": ("stay strong and healthy", ["running", "strength training", "stretching", "home workouts",
                "rest days", "warming up"]),
    "Nutrition": ("eat well every day", ["healthy breakfasts", "protein", "vitamins", "drinking water",
                  "reading food labels", "balanced meals"]),
    "Sleep": ("feel rested", ["bedtime routines", "naps", "sleep schedules", "screen time at night",
              "quiet bedrooms"]),
    "Travel": ("plan smooth trips", ["packing light", "booking flights", "travel insurance", "budget travel",
               "road trips", "travel safety"]),
    "Home maintenance": ("keep your home in good shape", ["fixing leaks", "cleaning gutters", "painting walls",
                         "smoke alarms", "heating systems", "basic tools"]),
    "Pet care": ("keep pets happy and healthy", ["feeding dogs", "cat behavior", "vet visits", "grooming",
                 "training puppies", "pet exercise"]),
    "Parenting": ("support children as they grow", ["bedtime stories", "screen time", "homework help",
                  "healthy snacks", "family routines"]),
    "Time management": ("get more done with less stress", ["to-do lists", "setting priorities",
                        "avoiding procrastination", "calendars", "taking breaks"]),
    "Career development": ("grow at work", ["writing a resume", "job interviews", "networking",
                           "asking for a raise", "learning new skills"]),
    "Public speaking": ("speak with confidence", ["calming nerves", "structuring a talk", "using slides",
                        "eye contact", "answering questions"]),
    "Learning languages": ("learn a new language", ["vocabulary", "grammar basics", "pronunciation",
                           "language apps", "speaking practice"]),
    "Programming": ("write better software", ["algorithms", "data structures", "debugging", "testing",
                    "version control", "code review"]),
    "Python": ("write clear Python code", ["lists and dictionaries", "functions", "virtual environments",
               "error handling", "reading files", "unit tests"]),
    "Web development": ("build websites", ["HTML basics", "CSS layouts", "JavaScript", "web accessibility",
                        "APIs", "web hosting"]),
    "Cybersecurity": ("stay safe online", ["strong passwords", "phishing", "two-factor authentication",
                      "software updates", "backups"]),
    "Data science": ("learn from data", ["data cleaning", "charts", "statistics", "spreadsheets",
                     "machine learning"]),
    "Mathematics": ("solve problems step by step", ["algebra", "geometry", "fractions", "percentages",
                    "probability", "statistics"]),
    "Physics": ("understand how the world moves", ["gravity", "energy", "light", "electricity", "magnets"]),
    "Biology": ("understand living things", ["cells", "photosynthesis", "the human heart", "ecosystems",
                "genetics"]),
    "Astronomy": ("understand the night sky", ["the moon", "planets", "stars", "comets", "telescopes"]),
    "Climate and weather": ("understand the weather", ["clouds", "rain", "seasons", "storms", "climate change"]),
    "History": ("learn from the past", ["ancient Egypt", "the Roman Empire", "the printing press",
                "the industrial revolution", "world maps"]),
    "Music": ("enjoy and make music", ["learning guitar", "reading sheet music", "rhythm", "singing",
              "practice habits"]),
    "Photography": ("take better photos", ["lighting", "composition", "phone cameras", "editing photos",
                    "portraits"]),
    "Writing": ("write clearly", ["short stories", "editing drafts", "writing emails", "grammar",
                "keeping a journal"]),
    "Mental health": ("feel calm and balanced", ["managing stress", "mindfulness", "talking to friends",
                      "daily walks", "gratitude"]),
    "Customer service": ("help customers well", ["answering complaints", "friendly greetings", "refunds",
                         "follow-up emails", "clear answers"]),
    "Small business": ("run a small business", ["pricing products", "marketing", "bookkeeping",
                       "hiring staff", "customer reviews"]),
    "Renewable energy": ("use cleaner energy", ["solar panels", "wind power", "saving electricity",
                         "electric cars", "home batteries"]),
    "Recycling": ("waste less", ["sorting plastics", "composting food scraps", "reusing jars",
                  "recycling paper", "buying less"]),
    "Small Talk Topics": ("start friendly conversations", ["weather", "weekend plans", "hobbies", "food",
                          "music", "books"]),
    "Board games": ("have fun with friends", ["chess", "card games", "strategy games", "party games",
                    "game rules"]),
}
DF_SUFFIXES = ["{} basics", "common {} mistakes", "tools for {}", "{} for beginners", "tips for {}",
               "planning {}", "the history of {}", "{} at home"]

DF_GEN_SYSTEMS = ["You write short, helpful question and answer conversations.",
                  "You write short, helpful question and answer conversations.",
                  "You are a helpful assistant.", "You are a friendly tutor who explains things simply.",
                  "You are a patient teacher who gives clear, practical answers.",
                  "You create educational conversations for training a helpful assistant.",
                  "You are a knowledgeable assistant that answers questions briefly."]
DF_TREE_CONTEXTS = ["", "", "", "", "You are a helpful assistant.", "You write short, helpful question and answer conversations.",
                    "You create training data for a friendly chat assistant.", "You are an expert tutor."]

# TreePromptBuilder.EXAMPLES (deepfabric/prompts.py), selected by Tree._detect_domain.
DF_TREE_EXAMPLES = {
    "general": [(["Technology", "Artificial Intelligence"], ["machine learning", "neural networks", "computer vision", "natural language processing", "robotics"]),
                (["Entertainment", "Movies", "Actors"], ["Tom Hanks", "Meryl Streep", "Leonardo DiCaprio", "Jennifer Lawrence", "Denzel Washington"])],
    "conversational": [(["Small Talk Topics"], ["weather", "weekend plans", "hobbies", "family", "books", "food", "music"]),
                       (["Small Talk Topics", "Family"], ["parents", "grandparents", "siblings", "family traditions", "family vacations"]),
                       (["Small Talk Topics", "Hobbies", "Cooking"], ["recipes", "asian food", "favourite dishes", "cookbooks", "kitchen gadgets", "vegan cooking"])],
    "technical": [(["Programming"], ["algorithms", "data structures", "debugging", "testing", "version control"]),
                  (["Programming", "Python"], ["pandas", "flask", "pytest", "asyncio", "django"])],
    "educational": [(["Mathematics"], ["algebra", "geometry", "calculus", "statistics", "probability"]),
                    (["Mathematics", "Algebra"], ["linear equations", "quadratic functions", "polynomials", "matrices", "systems"])],
}


def _df_domain(system_prompt, path):
    text = f"{system_prompt} {' '.join(path)}".lower()
    for domain, words in (("educational", ["math", "calculus", "algebra", "geometry", "equation"]),
                          ("technical", ["programming", "code", "software", "python", "algorithm"]),
                          ("conversational", ["chat", "conversation", "talk", "friendly", "assistant"])):
        if any(w in text for w in words):
            return domain
    return "general"


def df_tree_prompt(path, n, context):
    examples = "\n\n".join("Path: " + " -> ".join(f'"{t}"' for t in p) + f"\nSubtopics: {s}"
                           for p, s in DF_TREE_EXAMPLES[_df_domain(context, path)][:3])
    path_str = " -> ".join(f'"{t}"' for t in path)
    return (f"Generate {n} subtopics for training data organization.\n\n"
            "Task: Create diverse but related subtopics that expand on the given topic path.\n\n"
            f"Examples:\n{examples}\n\nContext: {context}\n\nTopic path: {path_str}\n"
            f"Generate {n} subtopics as a Python list. Return only the list, nothing else.")


def _df_path(rng):
    """A topic path (root first) and the subtopics that sensibly extend it."""
    root = rng.choice(list(DF_TOPICS))
    subs = DF_TOPICS[root][1]
    depth = rng.choice([1, 1, 1, 2, 2, 3])
    if depth == 1:
        return [root], list(subs)
    sub = rng.choice(subs)
    more = [s.format(sub) for s in DF_SUFFIXES]
    if depth == 2:
        return [root, sub], more
    sub2 = rng.choice(more)
    return [root, sub, sub2], [f"{sub2}: {x}" for x in ("first steps", "examples", "questions", "checklist", "practice")]


def df_tree_conversation(rng):
    path, cands = _df_path(rng)
    n = rng.choice([2, 2, 2, 3, 3, 4, 5])
    picks = rng.sample(cands, min(n, len(cands)))
    context = rng.choice(DF_TREE_CONTEXTS)
    return [{"role": "user", "content": df_tree_prompt(path, n, context)},
            {"role": "assistant", "content": json.dumps({"subtopics": picks})}]


def _df_hex(rng, n):
    return "".join(rng.choice("0123456789abcdef") for _ in range(n))


def _df_uuid(rng):
    h = _df_hex(rng, 32)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{rng.choice('89ab')}{h[17:20]}-{h[20:]}"


def df_graph_summary(rng, topics, parent_of):
    """Graph.to_json(): nodes with children/parents and metadata, indent 2."""
    nodes = {}
    for i, t in enumerate(topics):
        nodes[str(i)] = {"id": i, "topic": t,
                         "children": [j for j, p in enumerate(parent_of) if p == i],
                         "parents": [] if parent_of[i] is None else [parent_of[i]],
                         "metadata": {"uuid": _df_uuid(rng), "topic_hash": _df_hex(rng, 64)}}
    meta = {"provider": rng.choice(["openai", "openai", "ollama", "anthropic"]),
            "model": rng.choice(["heddle-demo", "heddle-demo", "heddle-demo", "local"]),
            "temperature": rng.choice([0.7, 0.7, 0.2, 0.5, 1.0]),
            "created_at": f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:"
                          f"{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}.{rng.randint(0, 999999):06d}+00:00"}
    return json.dumps({"nodes": nodes, "root_id": 0, "metadata": meta}, indent=2)


def df_graph_conversation(rng):
    root = rng.choice(list(DF_TOPICS))
    subs = DF_TOPICS[root][1]
    # The graph so far: the root, and sometimes some of its children (then one of them is expanded).
    k = rng.choice([0, 0, 0, 0, 1, 1, 2])
    children = rng.sample(subs, min(k, len(subs)))
    topics, parent_of = [root] + children, [None] + [0] * len(children)
    if children and rng.random() < 0.6:
        cur = rng.randrange(1, len(topics))
        cands = [s.format(topics[cur]) for s in DF_SUFFIXES]
    else:
        cur = 0
        cands = [s for s in subs if s not in children]
    n = rng.choice([2, 2, 2, 3, 3, 4])
    picks = rng.sample(cands, min(n, len(cands)))
    isolated = rng.random() < 0.2
    if isolated:
        prompt = ("\nYou are an expert in topic generation. Your task is to expand a topic into a set of focused "
                  f"subtopics.\n\nYou are expanding the topic: \"{topics[cur]}\"\n\n"
                  f"Generate a list of {n} subtopics. For each subtopic, provide:\n"
                  "1. A \"topic\" string - the name of the new subtopic\n"
                  "2. A \"connections\" list - ALWAYS use an empty list []\n\n"
                  "IMPORTANT: Do NOT create cross-connections between topics. Each subtopic should be independent "
                  "and directly related only to its parent topic. Always return connections as an empty list [].\n")
    else:
        summary = df_graph_summary(rng, topics, parent_of) if rng.random() < 0.95 else "Graph too large to display"
        prompt = ("\nYou are an expert in knowledge graph generation. Your task is to expand a topic into a set of "
                  "subtopics. For each subtopic, you should also identify if it connects to any other existing "
                  f"topics in the graph.\n\nHere is the current state of the graph:\n{summary}\n\n"
                  f"You are expanding the topic: \"{topics[cur]}\"\n\n"
                  f"Generate a list of {n} subtopics. For each subtopic, provide:\n"
                  "1. A \"topic\" string - the name of the new subtopic\n"
                  "2. A \"connections\" list of IDs of existing topics it should connect to for creating "
                  "cross-links (use empty list if no connections)\n")
    out = []
    for p in picks:
        # Cross-links only to existing topics other than the one being expanded, and not often.
        others = [i for i in range(len(topics)) if i != cur]
        conn = [rng.choice(others)] if (not isolated and others and rng.random() < 0.2) else []
        out.append({"topic": p, "connections": conn})
    return [{"role": "user", "content": prompt},
            {"role": "assistant", "content": json.dumps({"subtopics": out})}]


# question, answer templates for a basic conversation about subtopic {s} of root {r} ({b}: what it helps with)
DF_QA = [
    ("How do I get started with {s}?",
     "Start small. Learn the basics of {s}, set one simple goal, and practice a little each week. Small steady steps help you {b}."),
    ("What is the most important thing to know about {s}?",
     "The key idea is consistency. Doing a little {s} regularly works better than doing a lot once, and it helps you {b}."),
    ("Can you give me a simple tip for {s}?",
     "Sure! Write down a clear plan for {s}, check it once a week, and adjust what is not working. This helps you {b}."),
    ("Why does {s} matter?",
     "{S} matters because it helps you {b}. A little attention to it now saves time and trouble later."),
    ("I am new to {r}. Where should I begin with {s}?",
     "Welcome! Begin with one easy habit around {s}. Once it feels natural, add the next step. That is how {r} gets easier."),
    ("What mistakes should I avoid with {s}?",
     "Avoid trying to do everything at once and skipping the basics. Keep {s} simple and review your progress often."),
    ("How can I get better at {s}?",
     "Practice regularly, learn from your mistakes, and ask for feedback. Over time {s} will help you {b}."),
    ("Could you explain {s} in simple terms?",
     "{S} is a part of {r} that helps you {b}. Think of it as a small, repeatable habit you can build step by step."),
]

DF_IMPORTANT = ("\n\nIMPORTANT: Generate the conversation messages array starting with a 'user' message (the user's "
                "question or request), followed by an 'assistant' message (the response). Do NOT include any "
                "'system' role messages - those are added separately.")

DF_RETRY_ERRORS = [
    ("messages.{i}.tool_call_id\n  Value error, tool_call_id must be exactly 9 alphanumeric characters, got: '{v}' "
     "[type=value_error, input_value='{v}', input_type=str]"),
    ("reasoning\n  Value error, Reasoning style 'agent' requires list of ReasoningStep, got <class 'str'> "
     "[type=value_error, input_value={{'style': 'agent', 'content': '{v}'}}, input_type=dict]"),
    ("tool_context.executions.{i}.arguments\n  Value error, Arguments must be valid JSON: Expecting value: line 1 "
     "column 1 (char 0) [type=value_error, input_value='{v}', input_type=str]"),
    ("agent_context\n  Value error, agent_context requires tool_context to be present [type=value_error, "
     "input_value={{'mode': 'single_turn', '...execution_summary': '{v}'}}, input_type=dict]"),
]


def df_retry_feedback(rng):
    errs = rng.sample(DF_RETRY_ERRORS, rng.randint(1, 4))
    parts = [e.format(i=rng.randint(0, 1), v=rng.choice(["", " {", "!", "(", " [{", "0", "x"])) +
             "\n    For further information visit https://errors.pydantic.dev/2.14/v/value_error" for e in errs]
    n = len(parts)
    return (f"Async generation validation failed: {n} validation error{'s' if n > 1 else ''} for Conversation\n"
            + "\n".join(parts))


def df_conversation_prompt(system_prompt, path, retry=None):
    """BaseConversationBuilder._build_prompt + CONVERSATION_GENERATION_PROMPT for conversation type basic."""
    subtopics = ("\nLastly, the topic of the training data should be related to the following subtopics: "
                 + " -> ".join(path)) if path else ""
    body = ("Generate a training conversation for a language model with this system prompt:\n\n"
            f"<system_prompt>\n{system_prompt}\n</system_prompt>\n\n"
            "Create a realistic single q&a that demonstrates the system's capabilities. The conversation should:\n"
            "- Start with a user question/request\n"
            "- Have the assistant respond helpfully according to the system prompt\n"
            "- Be natural and educational\n\n"
            f"\n\n{subtopics}\n\nGenerate one training sample as question and answer.")
    p = f"{system_prompt}\n\nTopic/Scenario: {body}"
    if retry:
        p += f"\n\n\nRETRY: {retry}. Use real values, not null/empty/placeholders."
    return p + DF_IMPORTANT


def df_message(role, content):
    return {"role": role, "content": content, "tool_calls": None, "tool_call_id": None}


def df_basic_conversation(rng):
    root = rng.choice(list(DF_TOPICS))
    benefit, subs = DF_TOPICS[root]
    sub = rng.choice(subs)
    shape = rng.random()
    if shape < 0.6:
        path = [root, sub]
    elif shape < 0.75:
        path, sub = [root], root.lower() if root not in ("Python",) else root
    else:
        sub2 = rng.choice(DF_SUFFIXES).format(sub)
        path, sub = [root, sub, sub2], sub2
    if rng.random() < 0.04:
        path = []  # no topic model: the subtopics line is left out
    q, a = rng.choice(DF_QA)
    fill = {"s": sub, "S": sub[0].upper() + sub[1:], "r": root.lower() if root != "Python" else root, "b": benefit}
    q, a = q.format(**fill), a.format(**fill)
    retry = df_retry_feedback(rng) if rng.random() < 0.12 else None
    target = {"messages": [df_message("user", q), df_message("assistant", a)], "reasoning": None,
              "tool_context": None, "tools": None, "agent_context": None, "question": "", "final_answer": ""}
    return [{"role": "user", "content": df_conversation_prompt(rng.choice(DF_GEN_SYSTEMS), path, retry)},
            {"role": "assistant", "content": json.dumps(target)}]


def deepfabric_conversation(rng):
    r = rng.random()
    if r < 0.3:
        return df_tree_conversation(rng)
    if r < 0.52:
        return df_graph_conversation(rng)
    return df_basic_conversation(rng)


def conversation(rng):
    """One training conversation: (messages, tools or None)."""
    r = rng.random()
    if r < 0.27:
        return chat_conversation(rng), None
    if r < 0.51:
        return json_conversation(rng), None
    if r < 0.80:
        return tool_conversation(rng)
    return deepfabric_conversation(rng), None


# ---------------------------------------------------------------------------
# Rendering: must match CHAT_TEMPLATE below byte for byte (check.py verifies this).

TOOLS_HEADER = ("\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
                "You are provided with function signatures within <tools></tools> XML tags:\n<tools>")
TOOLS_FOOTER = ("\n</tools>\n\nFor each function call, return a json object with function name and arguments "
                "within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, "
                "\"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n")

CHAT_TEMPLATE = (
    "{%- if tools %}"
    "{{- '<|im_start|>system\\n' }}"
    "{%- if messages[0]['role'] == 'system' %}{{- messages[0]['content'] }}"
    "{%- else %}{{- '" + DEFAULT_SYSTEM + "' }}{%- endif %}"
    "{{- " + json.dumps(TOOLS_HEADER) + " }}"
    "{%- for tool in tools %}{{- '\\n' }}{{- tool | tojson }}{%- endfor %}"
    "{{- " + json.dumps(TOOLS_FOOTER) + " }}"
    "{%- else %}"
    "{%- if messages[0]['role'] == 'system' %}"
    "{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}"
    "{%- else %}{{- '<|im_start|>system\\n" + DEFAULT_SYSTEM + "<|im_end|>\\n' }}{%- endif %}"
    "{%- endif %}"
    "{%- for message in messages %}"
    "{%- if (message.role == 'user') or (message.role == 'system' and not loop.first) "
    "or (message.role == 'assistant' and not message.tool_calls) %}"
    "{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}"
    "{%- elif message.role == 'assistant' %}"
    "{{- '<|im_start|>' + message.role }}"
    "{%- if message.content %}{{- '\\n' + message.content }}{%- endif %}"
    "{%- for tool_call in message.tool_calls %}"
    "{%- if tool_call.function is defined %}{%- set tool_call = tool_call.function %}{%- endif %}"
    "{{- '\\n<tool_call>\\n{\"name\": \"' }}{{- tool_call.name }}{{- '\", \"arguments\": ' }}"
    "{%- if tool_call.arguments is string %}{{- tool_call.arguments }}"
    "{%- else %}{{- tool_call.arguments | tojson }}{%- endif %}"
    "{{- '}\\n</tool_call>' }}"
    "{%- endfor %}"
    "{{- '<|im_end|>\\n' }}"
    "{%- elif message.role == 'tool' %}"
    "{%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != 'tool') %}{{- '<|im_start|>user' }}{%- endif %}"
    "{{- '\\n<tool_response>\\n' }}{{- message.content }}{{- '\\n</tool_response>' }}"
    "{%- if loop.last or (messages[loop.index0 + 1].role != 'tool') %}{{- '<|im_end|>\\n' }}{%- endif %}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)


def tool_json(tool, rng):
    """Tools as different template engines print `tool | tojson`: Python's json.dumps spacing (HF
    transformers) or compact serde_json (minijinja)."""
    if rng is None or rng.random() < 0.6:
        return json.dumps(tool, ensure_ascii=False)
    return json.dumps(tool, ensure_ascii=False, separators=(",", ":"))


def render(messages, tools=None, add_generation_prompt=False, rng=None):
    """Return (text, spans): spans are (start, end) char ranges of assistant output to train on."""
    out, spans = [], []
    pos = 0

    def emit(s, train=False):
        nonlocal pos
        if train:
            spans.append((pos, pos + len(s)))
        out.append(s)
        pos += len(s)

    if tools:
        emit("<|im_start|>system\n")
        emit(messages[0]["content"] if messages[0]["role"] == "system" else DEFAULT_SYSTEM)
        emit(TOOLS_HEADER)
        for t in tools:
            emit("\n" + tool_json(t, rng))
        emit(TOOLS_FOOTER)
    else:
        sysmsg = messages[0]["content"] if messages[0]["role"] == "system" else DEFAULT_SYSTEM
        emit("<|im_start|>system\n" + sysmsg + "<|im_end|>\n")
    for i, m in enumerate(messages):
        role = m["role"]
        if role == "user" or (role == "system" and i > 0) or (role == "assistant" and not m.get("tool_calls")):
            if role == "assistant":
                emit("<|im_start|>assistant\n")
                emit(m["content"] + "<|im_end|>", train=True)
                emit("\n")
            else:
                emit(f"<|im_start|>{role}\n{m['content']}<|im_end|>\n")
        elif role == "assistant":
            emit("<|im_start|>assistant")
            body = ("\n" + m["content"]) if m.get("content") else ""
            for tc in m["tool_calls"]:
                fn = tc.get("function", tc)
                a = fn["arguments"] if isinstance(fn["arguments"], str) else json.dumps(fn["arguments"], ensure_ascii=False)
                body += "\n<tool_call>\n{\"name\": \"" + fn["name"] + "\", \"arguments\": " + a + "}\n</tool_call>"
            # The generation prompt ends with "assistant\n", so the model's own output starts after that newline.
            emit("\n")
            emit(body[1:] + "<|im_end|>", train=True)
            emit("\n")
        elif role == "tool":
            if i == 0 or messages[i - 1]["role"] != "tool":
                emit("<|im_start|>user")
            emit("\n<tool_response>\n" + m["content"] + "\n</tool_response>")
            if i == len(messages) - 1 or messages[i + 1]["role"] != "tool":
                emit("<|im_end|>\n")
    if add_generation_prompt:
        emit("<|im_start|>assistant\n")
    return "".join(out), spans
