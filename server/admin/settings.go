package admin

import (
	"hearth/server/settings"
)

// CheckSetting returns value as SetSetting would store it. An unknown key
// or a value of the wrong type is ErrInvalid.
func CheckSetting(key, value string) (string, error) {
	v, err := settings.Check(key, value)
	if err != nil {
		return "", invalidf("%v", err)
	}
	return v, nil
}
