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


def conversation(rng):
    """One training conversation: (messages, tools or None)."""
    r = rng.random()
    if r < 0.33:
        return chat_conversation(rng), None
    if r < 0.63:
        return json_conversation(rng), None
    return tool_conversation(rng)


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
