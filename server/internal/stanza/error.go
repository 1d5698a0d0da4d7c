package stanza

// Error types (RFC 6120 8.3.2).
const (
	Auth     = "auth"
	Cancel   = "cancel"
	Continue = "continue"
	Modify   = "modify"
	Wait     = "wait"
)

// Defined conditions (RFC 6120 8.3.3).
const (
	BadRequest            = "bad-request"
	Conflict              = "conflict"
	FeatureNotImplemented = "feature-not-implemented"
	Forbidden             = "forbidden"
	Gone                  = "gone"
	InternalServerError   = "internal-server-error"
	ItemNotFound          = "item-not-found"
	JIDMalformed          = "jid-malformed"
	NotAcceptable         = "not-acceptable"
	NotAllowed            = "not-allowed"
	NotAuthorized         = "not-authorized"
	PolicyViolation       = "policy-violation"
	RecipientUnavailable  = "recipient-unavailable"
	Redirect              = "redirect"
	RegistrationRequired  = "registration-required"
	RemoteServerNotFound  = "remote-server-not-found"
	RemoteServerTimeout   = "remote-server-timeout"
	ResourceConstraint    = "resource-constraint"
	ServiceUnavailable    = "service-unavailable"
	SubscriptionRequired  = "subscription-required"
	UndefinedCondition    = "undefined-condition"
	UnexpectedRequest     = "unexpected-request"
)

// Error is a stanza error. A handler returns one to have the router reply
// with it.
type Error struct {
	Type      string
	Condition string
	Text      string
	// Extra is an application-specific condition element, if any.
	Extra *Element
}

// NewError returns a stanza error.
func NewError(typ, cond, text string) *Error {
	return &Error{Type: typ, Condition: cond, Text: text}
}

func (e *Error) Error() string {
	if e.Text != "" {
		return e.Condition + ": " + e.Text
	}
	return e.Condition
}

// Element renders the <error/> child.
func (e *Error) Element() *Element {
	el := New("error", NSClient, "type", e.Type)
	el.Append(New(e.Condition, NSStanzas))
	if e.Text != "" {
		el.Append(New("text", NSStanzas).AppendText(e.Text))
	}
	if e.Extra != nil {
		el.Append(e.Extra)
	}
	return el
}

// Shorthands for the common errors.
func ErrBadRequest(text string) *Error { return NewError(Modify, BadRequest, text) }
func ErrServiceUnavailable() *Error    { return NewError(Cancel, ServiceUnavailable, "") }
func ErrFeatureNotImplemented() *Error { return NewError(Cancel, FeatureNotImplemented, "") }
func ErrItemNotFound() *Error          { return NewError(Cancel, ItemNotFound, "") }
func ErrForbidden() *Error             { return NewError(Auth, Forbidden, "") }
func ErrNotAllowed() *Error            { return NewError(Cancel, NotAllowed, "") }
func ErrInternal() *Error              { return NewError(Cancel, InternalServerError, "") }
func ErrNotAuthorized() *Error         { return NewError(Auth, NotAuthorized, "") }
func ErrRecipientUnavailable() *Error  { return NewError(Wait, RecipientUnavailable, "") }
func ErrRemoteServerNotFound() *Error  { return NewError(Cancel, RemoteServerNotFound, "") }
func ErrResourceConstraint() *Error    { return NewError(Wait, ResourceConstraint, "") }

// ErrorOf reads the error an error stanza carries (RFC 6120 8.3.2): its
// type, defined condition and text; undefined-condition when it names
// none.
func ErrorOf(el *Element) *Error {
	e := &Error{Condition: UndefinedCondition}
	if x := el.Child("error", NSClient); x != nil {
		e.Type = x.Attr("type")
		for _, c := range x.Elements() {
			if c.NS != NSStanzas {
				continue
			}
			if c.Name == "text" {
				e.Text = c.Content()
			} else {
				e.Condition = c.Name
			}
		}
	}
	return e
}
