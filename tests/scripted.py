"""scripted.py - the script of a fake API server of the tests
(tests/claude/fakeapi.py, tests/codex/fakeapi.py): conversations, each
matched by a text its requests hold, serving its replies in order.

A script is a list of conversations (or {"conversations": [...]}, or one
conversation object) {"name", "match", "replies": [...]}. A request goes
to the first conversation whose "match" occurs in the request's text (an
empty match takes every request: put it last); each conversation serves
its replies in order, a reply "times" times (1, or "forever"), across
the CLI's runs. Used up, or matched by none: a reply saying so.
"""
import threading


class Script:
    def __init__(self, doc):
        if isinstance(doc, dict):
            doc = doc.get("conversations", [doc])
        self.convs = []
        for i, c in enumerate(doc):
            self.convs.append({
                "name": c.get("name", "conv%d" % i),
                "match": c.get("match", ""),
                "replies": list(c.get("replies", [])),
                "next": 0,    # index of the reply served next
                "served": 0,  # times the current reply was served
            })
        self.lock = threading.Lock()

    def pick(self, text):
        """(conversation name, reply index, reply) for a request whose
        text is TEXT."""
        with self.lock:
            for c in self.convs:
                if c["match"] and c["match"] not in text:
                    continue
                if c["next"] >= len(c["replies"]):
                    return c["name"], None, {
                        "text": "fakeapi: the script of %s is used up"
                        % c["name"]}
                idx = c["next"]
                r = c["replies"][idx]
                times = r.get("times", 1)
                c["served"] += 1
                if times != "forever" and c["served"] >= times:
                    c["next"] += 1
                    c["served"] = 0
                return c["name"], idx, r
        return None, None, {"text": "fakeapi: no conversation matches"}
