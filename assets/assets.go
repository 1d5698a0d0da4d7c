// Package assets holds the files embedded in the binary: the application
// icon. It has no logic and imports no GUI toolkit, so the headless build
// can use it without pulling in Fyne.
package assets

import _ "embed"

//go:generate go run icon_gen.go

// Icon is the application icon: a 512x512 PNG of a flame in a hearth.
//
//go:embed icon.png
var Icon []byte
