//go:build ignore

// icon_gen draws icon.png: a flame over two logs on a warm rounded square.
// Run it with `go generate ./assets` after changing the drawing; the PNG is
// committed so that builds need nothing but the file.
package main

import (
	"image"
	"image/color"
	"image/png"
	"log"
	"math"
	"os"
)

const (
	size    = 512
	samples = 4 // per axis, for anti-aliasing
)

type rgba struct{ r, g, b, a float64 }

func hex(v uint32) rgba {
	return rgba{float64(v>>16&0xff) / 255, float64(v>>8&0xff) / 255, float64(v&0xff) / 255, 1}
}

func mix(a, b rgba, t float64) rgba {
	t = math.Max(0, math.Min(1, t))
	return rgba{a.r + (b.r-a.r)*t, a.g + (b.g-a.g)*t, a.b + (b.b-a.b)*t, a.a + (b.a-a.a)*t}
}

// over composites c over dst.
func over(dst, c rgba) rgba {
	a := c.a + dst.a*(1-c.a)
	if a == 0 {
		return rgba{}
	}
	f := func(s, d float64) float64 { return (s*c.a + d*dst.a*(1-c.a)) / a }
	return rgba{f(c.r, dst.r), f(c.g, dst.g), f(c.b, dst.b), a}
}

// roundedRect reports whether (x, y) is inside the rectangle centred on
// (cx, cy) with half sizes hw, hh and corner radius r, rotated by angle.
func roundedRect(x, y, cx, cy, hw, hh, r, angle float64) bool {
	dx, dy := x-cx, y-cy
	s, c := math.Sin(-angle), math.Cos(-angle)
	dx, dy = dx*c-dy*s, dx*s+dy*c
	qx := math.Abs(dx) - (hw - r)
	qy := math.Abs(dy) - (hh - r)
	outside := math.Hypot(math.Max(qx, 0), math.Max(qy, 0))
	inside := math.Min(math.Max(qx, qy), 0)
	return outside+inside-r <= 0
}

// flame reports whether (x, y) is inside a flame whose round base is a
// circle of radius r centred on (cx, cy) and whose tip is height h above
// that centre; lean bends the upper part sideways.
func flame(x, y, cx, cy, r, h, lean float64) bool {
	dy := cy - y // up is positive
	if dy <= 0 {
		return math.Hypot(x-cx, y-cy) <= r
	}
	if dy >= h {
		return false
	}
	t := dy / h
	mid := cx + lean*math.Sin(math.Pi*t)*t
	half := r * math.Pow(math.Cos(math.Pi/2*t), 1.3)
	return math.Abs(x-mid) <= half
}

func shade(x, y float64) rgba {
	var c rgba
	// Background: a warm dark rounded square with a soft glow behind the fire.
	if roundedRect(x, y, 256, 256, 240, 240, 96, 0) {
		bg := mix(hex(0x4a2a1a), hex(0x1e110b), y/size)
		glow := math.Exp(-math.Pow(math.Hypot(x-256, y-330)/170, 2))
		c = mix(bg, hex(0xb4461a), 0.55*glow)
	}
	// Logs.
	log1 := roundedRect(x, y, 256, 410, 150, 26, 26, 0.16)
	log2 := roundedRect(x, y, 256, 410, 150, 26, 26, -0.16)
	if log1 || log2 {
		c = over(c, mix(hex(0x8a5232), hex(0x5b3320), (y-380)/60))
	}
	// Flames: outer, middle, inner.
	if flame(x, y, 256, 318, 104, 250, 26) {
		c = over(c, mix(hex(0xe2401c), hex(0xff8a1e), (318-y)/250+0.2))
	}
	if flame(x, y, 262, 338, 70, 170, -18) {
		c = over(c, mix(hex(0xff9a1f), hex(0xffc53a), (338-y)/170))
	}
	if flame(x, y, 258, 356, 38, 96, 10) {
		c = over(c, hex(0xfff1b8))
	}
	return c
}

func main() {
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	for py := 0; py < size; py++ {
		for px := 0; px < size; px++ {
			var sum rgba
			for sy := 0; sy < samples; sy++ {
				for sx := 0; sx < samples; sx++ {
					x := float64(px) + (float64(sx)+0.5)/samples
					y := float64(py) + (float64(sy)+0.5)/samples
					c := shade(x, y)
					// Premultiply while averaging.
					sum.r += c.r * c.a
					sum.g += c.g * c.a
					sum.b += c.b * c.a
					sum.a += c.a
				}
			}
			n := float64(samples * samples)
			a := sum.a / n
			var out color.NRGBA
			if a > 0 {
				out = color.NRGBA{
					R: uint8(math.Round(sum.r / sum.a * 255)),
					G: uint8(math.Round(sum.g / sum.a * 255)),
					B: uint8(math.Round(sum.b / sum.a * 255)),
					A: uint8(math.Round(a * 255)),
				}
			}
			img.SetNRGBA(px, py, out)
		}
	}
	f, err := os.Create("icon.png")
	if err != nil {
		log.Fatal(err)
	}
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(f, img); err != nil {
		log.Fatal(err)
	}
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}
}
