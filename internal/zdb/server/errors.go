package server

import "errors"

// Replies whose exact text 0-db clients match on (docs/0db-protocol.md).
// They are sent as "-<text>", without Redis's "ERR " prefix, as 0-db does.
var (
	errNSTooLong    = errors.New("Namespace too long")
	errNSNotAllowed = errors.New("This name is not allowed")
	errNSExists     = errors.New("This namespace is not available")
	errNSNotFound   = errors.New("Namespace not found")
	errNSCreate     = errors.New("Could not create namespace")
	errNSDelete     = errors.New("Could not delete this namespace")
)

const (
	msgUnexpectedArgs = "Unexpected arguments"
	msgInvalidArg     = "Invalid argument"
	msgMissingArgs    = "Missing arguments"
	msgInvalidArgs    = "Invalid arguments"
	msgPermission     = "Permission denied"
	msgFrozen         = "Namespace is temporarily frozen (read-write disabled)"
	msgLocked         = "Namespace is temporarily locked (read-only)"
	msgReadOnly       = "Namespace is in read-only mode"
	msgUnknownCommand = "Command not supported"
	msgKeyTooLarge    = "Key too large"
	msgInvalidKey     = "Invalid key"
	msgKeyNotFound    = "Key not found"
	msgNoSpace        = "No space left on this namespace"
	msgWormOverwrite  = "Namespace is protected by worm mode"
	msgWormDelete     = "Cannot delete a key when namespace is in worm mode"
	msgSeqUpdateOnly  = "Invalid key, only update authorized"
	msgKeyNeeded      = "Invalid argument, key needed"
	msgNoMoreData     = "No more data"
	msgInternal       = "Internal Error"
	msgCorrupt        = "Data corrupted"
	msgWriteFailed    = "Cannot write data right now"
	msgAccessDenied   = "Access denied"
	msgAuthDisabled   = "Authentication disabled"
	msgOnlySecure     = "Only SECURE extra method supported"
	msgNoChallenge    = "No CHALLENGE requested, secure authentication not available"
	msgHashLength     = "Invalid hash length"
	msgNSGone         = "Your active namespace is not available anymore (probably removed)."
	msgInvalidCursor  = "Invalid key format"
	msgPayloadTooBig  = "Payload too big"
)
