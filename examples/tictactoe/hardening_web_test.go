package main

// The example server's web-facing hardening tests: what its origin serves
// (no test page, a Content-Security-Policy on every page and the admin
// console) and what a foreign page's images can do to its visitors'
// session cap. docs/SECURITY.md lists them.

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"github.com/cometplay/cometplay/comet"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/cometplay/cometplay/engine"
	"github.com/cometplay/cometplay/internal/cometclient"
)

// TestHardeningSitePages: the production site holds no test page (one
// built a client from its URL's ?opts=, a javascript: frameUrl among
// them, and so ran any script on the game's origin, where every seat's
// reconnection token and the admin's cookie live). Its pages, the iframe
// transport's frame page, and every answer of the admin console (the login
// form too) carry a Content-Security-Policy that runs only the origin's
// own script files; the console may not be framed by any page. Every
// response says nosniff.
func TestHardeningSitePages(t *testing.T) {
	const token = "web-hardening-admin-token"
	base := strings.TrimSuffix(startSiteWith(t, func(c *config) { c.Admin.Token = token }).base, "/")
	get := func(path string, hdr ...string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", base+path, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: no X-Content-Type-Options: nosniff", path)
		}
		return resp, string(b)
	}
	for _, p := range []string{"/test/client.html", "/test/", "/test/client.js"} {
		if resp, _ := get(p); resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %d; want 404: test pages are not part of the site", p, resp.StatusCode)
		}
	}
	for _, p := range []string{"/", "/js/cometplay-frame.html"} {
		resp, _ := get(p)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Security-Policy") != engine.DefaultPageCSP {
			t.Errorf("%s: %d, policy %q; want 200 with engine.DefaultPageCSP", p, resp.StatusCode, resp.Header.Get("Content-Security-Policy"))
		}
	}
	// A policy governs documents; a script file carries none (nosniff keeps
	// it from being read as one).
	if resp, _ := get("/js/cometplay.js"); resp.StatusCode != 200 || resp.Header.Get("Content-Security-Policy") != "" {
		t.Errorf("/js/cometplay.js: %d, policy %q; want 200 without a policy", resp.StatusCode, resp.Header.Get("Content-Security-Policy"))
	}

	// The admin console: the login form (401), the page and its API.
	resp, login := get("/admin/")
	policy := resp.Header.Get("Content-Security-Policy")
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(policy, "frame-ancestors 'none'") || !strings.Contains(policy, "script-src 'self';") {
		t.Fatalf("login form: %d, policy %q; want 401 with a policy forbidding frames and foreign script", resp.StatusCode, policy)
	}
	// Its one inline style sheet is allowed by its hash, and nothing else
	// inline is.
	styles := regexp.MustCompile(`(?s)<style>(.*?)</style>`).FindAllStringSubmatch(login, -1)
	if len(styles) != 1 || strings.Contains(login, "<script") {
		t.Fatalf("login form: %d style elements, script %v; want one style sheet and no script", len(styles), strings.Contains(login, "<script"))
	}
	sum := sha256.Sum256([]byte(styles[0][1]))
	if h := "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"; !strings.Contains(policy, "style-src 'self' "+h+";") {
		t.Errorf("login form: policy %q does not allow its style sheet (%s)", policy, h)
	}
	for _, p := range []string{"/admin/", "/admin/admin.js", "/admin/api/sessions"} {
		resp, _ := get(p, "Authorization", "Bearer "+token)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Security-Policy") != policy {
			t.Errorf("%s signed in: %d, policy %q; want 200 with the console's %q", p, resp.StatusCode, resp.Header.Get("Content-Security-Policy"), policy)
		}
	}
}

// TestHardeningForeignImagesKeepTheSessionCap: a foreign page's <img
// src=".../comet?p_event=join"> (as many as the address's session cap)
// joins nothing, so the visitor can still play: the browser marks such
// requests cross-site (Fetch Metadata) and sends no Origin.
func TestHardeningForeignImagesKeepTheSessionCap(t *testing.T) {
	const perAddr = 4
	hs := startHardSite(t, comet.Config{MaxSessionsPerAddr: perAddr}, 0)
	for i := range perAddr + 1 {
		req, _ := http.NewRequest("GET", hs.base+"/comet?p_event=join&p_format=json", nil)
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		req.Header.Set("Sec-Fetch-Mode", "no-cors")
		req.Header.Set("Sec-Fetch-Dest", "image")
		if i%2 == 1 {
			req.Header.Set("Referer", "https://evil.example/")
		}
		resp, err := hs.hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("foreign image %d: %d; want 403", i, resp.StatusCode)
		}
	}
	if n := hs.s.Hub().NumSessions(); n != 0 {
		t.Fatalf("foreign images made %d sessions", n)
	}
	for i := range perAddr {
		if _, err := cometclient.Join(context.Background(), hs.base, hs.hc); err != nil {
			t.Fatalf("the player's own join %d: %v", i, err)
		}
	}
}
