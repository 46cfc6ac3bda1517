package messaging

import (
	"fmt"
	"strings"
)

// Subscription is one entry of a link's SUBSCRIPTION value: a subject, possibly with wildcards,
// and the queue group to join (empty: a plain subscription, every linked actor gets every
// message).
type Subscription struct {
	Subject string
	Queue   string
}

// String renders s as it is written in a link value.
func (s Subscription) String() string {
	if s.Queue == "" {
		return s.Subject
	}
	return s.Subject + "|" + s.Queue
}

// ParseSubscriptions parses a SUBSCRIPTION link value: a comma-separated list of subjects, each
// optionally followed by "|" and a queue group ("orders.*|workers"). Spaces around entries are
// ignored and so are empty entries, as upstream does; "" gives no subscriptions. A subject must be
// a valid NATS subscription subject: dot-separated non-empty tokens without whitespace, where
// "*" and ">" stand alone and ">" comes last. A queue group must be non-empty, without
// whitespace or "|". Errors name the entry.
func ParseSubscriptions(value string) ([]Subscription, error) {
	var out []Subscription
	for i, raw := range strings.Split(value, ",") {
		entry := strings.TrimSpace(raw)
		if entry == "" {
			continue
		}
		subject, queue, hasQueue := strings.Cut(entry, "|")
		subject, queue = strings.TrimSpace(subject), strings.TrimSpace(queue)
		if err := checkSubject(subject); err != nil {
			return nil, fmt.Errorf("subscription %d %q: %w", i+1, entry, err)
		}
		if hasQueue {
			if err := checkQueue(queue); err != nil {
				return nil, fmt.Errorf("subscription %d %q: %w", i+1, entry, err)
			}
		}
		out = append(out, Subscription{Subject: subject, Queue: queue})
	}
	return out, nil
}

// checkSubject checks a subscription subject.
func checkSubject(subject string) error {
	if subject == "" {
		return fmt.Errorf("empty subject")
	}
	if i := strings.IndexFunc(subject, isSpace); i >= 0 {
		return fmt.Errorf("subject has whitespace at byte %d", i)
	}
	tokens := strings.Split(subject, ".")
	for i, tok := range tokens {
		switch {
		case tok == "":
			return fmt.Errorf("subject has an empty token (leading, trailing or double dot)")
		case tok == ">" && i != len(tokens)-1:
			return fmt.Errorf("subject has \">\" before its last token")
		case len(tok) > 1 && strings.ContainsAny(tok, "*>"):
			return fmt.Errorf("subject token %q mixes a wildcard with other characters", tok)
		}
	}
	return nil
}

// checkQueue checks a queue group name.
func checkQueue(queue string) error {
	switch {
	case queue == "":
		return fmt.Errorf("empty queue group after \"|\"")
	case strings.Contains(queue, "|"):
		return fmt.Errorf("queue group %q has a \"|\"", queue)
	case strings.IndexFunc(queue, isSpace) >= 0:
		return fmt.Errorf("queue group %q has whitespace", queue)
	}
	return nil
}

func isSpace(r rune) bool {
	return r == ' ' || r == '\t' || r == '\r' || r == '\n' || r == '\f' || r == '\v' || r == 0x85 || r == 0xA0
}
