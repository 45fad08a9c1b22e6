"""Polls (评议), in one place: issue.py sends the cards, form.py is the guided /评议 form, end.py asks
before /评议 结束 ends one, vote.py records a vote, close.py counts, publishes and closes the cards,
rules.py holds the rules without storage (deadlines, counts, the published result and its
consequences). The handlers (bot/handlers/poll.py, vote.py) only route; storage/polls.py keeps the
rows and storage/sealing.py the keys the ballots are sealed under until the close
(docs/architecture.md, "The limits of 无记名")."""
