/* page.c - the dashboard served at GET / and its script and style
 * (/app.js, /app.css, /favicon.svg): static files under web/assets/, compiled in by
 * assets/embed.py, so the server needs nothing at run time and the page
 * nothing from outside (no CDN). The page has no inline script or style
 * attribute, so a strict Content-Security-Policy (default-src 'self') fits
 * it. Without script its form still posts one file to / and the browser
 * shows the plain-text answer. */
#include "web/web_internal.h"

#include "web_assets.h"

#include <string.h>

static const char html_type[] = "text/html; charset=utf-8";
static const char js_type[] = "text/javascript; charset=utf-8";
static const char css_type[] = "text/css; charset=utf-8";
static const char svg_type[] = "image/svg+xml";

const char *cr__web_page_html(void)
{
    return asset_dashboard_html;
}

const char *cr__web_asset(const char *path, size_t *len, const char **type)
{
    static const struct {
        const char *path;
        const char *body;
        size_t len;
        const char *type;
    } assets[] = {
        {"/dashboard", asset_dashboard_html, asset_dashboard_html_len, html_type},
        {"/app.js", asset_app_js, asset_app_js_len, js_type},
        {"/app.css", asset_app_css, asset_app_css_len, css_type},
        {"/favicon.svg", asset_favicon_svg, asset_favicon_svg_len, svg_type},
    };
    for (size_t i = 0; i < CR__ARRAY_LEN(assets); i++) {
        if (strcmp(path, assets[i].path) != 0)
            continue;
        if (len)
            *len = assets[i].len;
        if (type)
            *type = assets[i].type;
        return assets[i].body;
    }
    return NULL;
}
