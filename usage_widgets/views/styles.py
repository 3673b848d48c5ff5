"""Shared CSS of the views (classes prefixed ``uw-``), built on JupyterLab theme variables."""

from __future__ import annotations

import ipywidgets as widgets

FONT_STACK = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"

# Text colours also used outside CSS (inside grid cells, which are drawn as isolated images and
# see no stylesheet), so they are plain values here.
TEXT_STRONG = "#111827"
TEXT_MUTED = "#6b7280"
WARN = "#b45309"
ACCENT = "#2563eb"

CSS = f"""
.uw-root {{
  font-family: var(--jp-ui-font-family, {FONT_STACK});
  color: var(--jp-ui-font-color0, {TEXT_STRONG});
}}
.uw-cards {{
  display: flex;
  flex-wrap: wrap;
  gap: 12px;
  width: 100%;
  margin: 0 0 16px 0;
}}
.uw-cards > .widget-html {{
  flex: 1 1 0;
  min-width: 170px;
  margin: 0;
  height: auto;
}}
.uw-cards .widget-html-content {{
  line-height: normal;
  height: 100%;
  width: 100%;
  align-self: stretch;
}}
.uw-card {{
  box-sizing: border-box;
  height: 100%;
  min-height: 96px;
  padding: 14px 16px 12px 16px;
  background: var(--jp-layout-color0, #ffffff);
  border: 1px solid var(--jp-border-color2, #e5e7eb);
  border-radius: 10px;
  box-shadow: 0 1px 2px rgba(16, 24, 40, 0.06), 0 1px 3px rgba(16, 24, 40, 0.04);
  font-family: var(--jp-ui-font-family, {FONT_STACK});
}}
.uw-card-title {{
  font-size: 12px;
  font-weight: 500;
  letter-spacing: 0.01em;
  color: var(--jp-ui-font-color2, {TEXT_MUTED});
  white-space: nowrap;
}}
.uw-card-value {{
  margin-top: 6px;
  font-size: 28px;
  font-weight: 650;
  line-height: 1.15;
  font-variant-numeric: tabular-nums;
  color: var(--jp-ui-font-color0, {TEXT_STRONG});
  cursor: default;
}}
.uw-card-note {{
  margin-top: 4px;
  font-size: 11px;
  line-height: 1.3;
  color: var(--jp-warn-color0, {WARN});
}}
.uw-panel {{
  box-sizing: border-box;
  width: 100%;
  padding: 12px 16px 8px 16px;
  margin: 0 0 16px 0;
  background: var(--jp-layout-color0, #ffffff);
  border: 1px solid var(--jp-border-color2, #e5e7eb);
  border-radius: 10px;
  box-shadow: 0 1px 2px rgba(16, 24, 40, 0.06), 0 1px 3px rgba(16, 24, 40, 0.04);
}}
.uw-panel-title {{
  font-family: var(--jp-ui-font-family, {FONT_STACK});
  font-size: 14px;
  font-weight: 600;
  line-height: 20px;
  color: var(--jp-ui-font-color0, {TEXT_STRONG});
}}
.uw-panel-subtitle {{
  font-size: 12px;
  font-weight: 400;
  color: var(--jp-ui-font-color2, {TEXT_MUTED});
  margin-left: 6px;
}}
.uw-empty {{
  box-sizing: border-box;
  width: 100%;
  padding: 28px 16px;
  text-align: center;
  font-family: var(--jp-ui-font-family, {FONT_STACK});
  font-size: 13px;
  line-height: 1.4;
  color: var(--jp-ui-font-color2, {TEXT_MUTED});
  border: 1px dashed var(--jp-border-color2, #d1d5db);
  border-radius: 8px;
}}
.uw-note {{
  font-family: var(--jp-ui-font-family, {FONT_STACK});
  font-size: 12px;
  line-height: 1.4;
  color: var(--jp-ui-font-color2, {TEXT_MUTED});
}}
.uw-tooltip {{
  font-family: var(--jp-ui-font-family, {FONT_STACK});
  font-size: 12px;
  line-height: 1.4;
  padding: 6px 8px;
  color: var(--jp-ui-font-color1, {TEXT_STRONG});
}}
.uw-tooltip b {{ font-weight: 600; }}
.uw-legend {{
  display: flex;
  flex-wrap: wrap;
  gap: 4px 16px;
  margin: 6px 0 4px 0;
  font-family: var(--jp-ui-font-family, {FONT_STACK});
  font-size: 12px;
  line-height: 18px;
  color: var(--jp-ui-font-color1, #374151);
}}
.uw-legend-item {{
  display: inline-flex;
  align-items: center;
  white-space: nowrap;
  cursor: default;
}}
/* Gridlines carry the scale; axis lines would only crowd the tick labels. */
.uw-chart .axis path.domain {{
  stroke: transparent !important;
}}
.uw-chart .axis .tick text {{
  fill: var(--jp-ui-font-color2, {TEXT_MUTED});
}}
.uw-chart.bqplot > svg .axis .tick line {{
  stroke: var(--jp-border-color3, #eef0f3);
}}
.uw-chart.bqplot > svg .axis text.axislabel {{
  fill: var(--jp-ui-font-color2, {TEXT_MUTED});
  font: 11px var(--jp-ui-font-family, {FONT_STACK});
}}
/* The grid paints on a canvas with the colours it was given, and its rich cells are images
   with their colours inside: no stylesheet reaches them. On a dark theme the whole canvas is
   turned around instead: lightness inverted (white to JupyterLab's #111), hues kept. */
body[data-jp-theme-light="false"] .uw-table .datagrid-container canvas {{
  filter: invert(0.933) hue-rotate(180deg);
}}
/* Team colours take the same turn everywhere, so a team's bars and swatches keep matching its
   badge in the table. */
body[data-jp-theme-light="false"] .uw-chart rect.bar,
body[data-jp-theme-light="false"] .uw-swatch {{
  filter: invert(0.933) hue-rotate(180deg);
}}
.uw-swatch {{
  display: inline-block;
  width: 10px;
  height: 10px;
  border-radius: 2px;
  margin-right: 6px;
  vertical-align: -1px;
}}
.uw-badge {{
  display: inline-block;
  padding: 1px 8px;
  border-radius: 999px;
  font-size: 11px;
  font-weight: 600;
  line-height: 16px;
  white-space: nowrap;
}}
.uw-panel .widget-html, .uw-panel .widget-html-content {{
  line-height: normal;
  height: auto;
}}
"""


# The page around the views: the dashboard's own boxes and controls (classes set in
# dashboard.py and controls.py).
PAGE_CSS = f"""
.uw-dashboard {{
  box-sizing: border-box;
  width: 100%;
  max-width: 1320px;
  padding: 16px 20px 24px 20px;
  font-family: var(--jp-ui-font-family, {FONT_STACK});
  color: var(--jp-ui-font-color0, {TEXT_STRONG});
}}
.uw-dashboard .widget-html, .uw-dashboard .widget-html-content {{
  line-height: normal;
}}
.uw-controls {{
  box-sizing: border-box;
  gap: 10px;
  padding: 14px 16px;
  margin: 0 0 16px 0;
  background: var(--jp-layout-color0, #ffffff);
  border: 1px solid var(--jp-border-color2, #e5e7eb);
  border-radius: 10px;
  box-shadow: 0 1px 2px rgba(16, 24, 40, 0.06), 0 1px 3px rgba(16, 24, 40, 0.04);
}}
.uw-controls > .widget-hbox {{
  gap: 8px 12px;
}}
.uw-title {{
  font-size: 20px;
  font-weight: 700;
  letter-spacing: -0.01em;
  color: var(--jp-ui-font-color0, {TEXT_STRONG});
}}
.uw-section-title {{
  font-size: 15px;
  font-weight: 600;
  color: var(--jp-ui-font-color0, {TEXT_STRONG});
}}
.uw-view-toggle .widget-toggle-button, .uw-range .widget-toggle-button {{
  margin: 0 -1px 0 0;
  border: 1px solid var(--jp-border-color1, #d1d5db);
  border-radius: 0;
  box-shadow: none;
  background: var(--jp-layout-color0, #ffffff);
  color: var(--jp-ui-font-color1, #374151);
  font-size: 12.5px;
}}
.uw-view-toggle .widget-toggle-button:first-of-type,
.uw-range .widget-toggle-button:first-of-type {{
  border-radius: 6px 0 0 6px;
}}
.uw-view-toggle .widget-toggle-button:last-of-type,
.uw-range .widget-toggle-button:last-of-type {{
  border-radius: 0 6px 6px 0;
}}
.uw-view-toggle .widget-toggle-button.mod-active, .uw-range .widget-toggle-button.mod-active {{
  background: var(--jp-brand-color1, {ACCENT});
  border-color: var(--jp-brand-color1, {ACCENT});
  color: #ffffff;
}}
.uw-range .widget-toggle-button {{
  padding: 0 6px;
}}
.uw-range, .uw-view-toggle {{
  overflow: visible;
  padding-right: 2px;
}}
.uw-picker .jupyter-widget-tagsinput {{
  box-sizing: border-box;
  width: auto;
  min-height: 30px;
  margin-right: 12px;
  padding: 1px 4px;
  border: 1px solid var(--jp-border-color1, #d1d5db);
  border-radius: 6px;
  background: var(--jp-layout-color0, #ffffff);
}}
.uw-picker input.jupyter-widget-taginput {{
  color: var(--jp-ui-font-color1, #374151);
  border: none;
  outline: none;
  background: transparent;
  min-width: 140px;
}}
.uw-live.jupyter-button, .uw-clear.jupyter-button, .uw-code-toggle.jupyter-button {{
  border: 1px solid var(--jp-border-color1, #d1d5db);
  border-radius: 6px;
  background: var(--jp-layout-color0, #ffffff);
  color: var(--jp-ui-font-color1, #374151);
  box-shadow: none;
  font-size: 12.5px;
}}
.uw-live.jupyter-button.mod-active {{
  background: #dcfce7;
  border-color: #16a34a;
  color: #166534;
}}
.uw-live-on {{
  font-size: 12px;
  color: #15803d;
  white-space: nowrap;
}}
.uw-live-warn {{
  font-size: 12px;
  color: var(--jp-warn-color0, {WARN});
}}
.uw-picker .widget-label {{
  font-size: 12px;
  font-weight: 500;
  color: var(--jp-ui-font-color2, {TEXT_MUTED});
}}
.uw-search input {{
  border-radius: 6px;
}}
.uw-message-text {{
  box-sizing: border-box;
  padding: 12px 16px;
  margin: 0 0 16px 0;
  border: 1px solid #fcd34d;
  border-radius: 8px;
  background: #fffbeb;
  color: #92400e;
  font-family: var(--jp-ui-font-family, {FONT_STACK});
  font-size: 13px;
  line-height: 1.4;
}}
.uw-caption {{
  color: var(--jp-ui-font-color2, {TEXT_MUTED});
  font-family: var(--jp-ui-font-family, {FONT_STACK});
  font-size: 12px;
  margin: 6px 2px 0 2px;
}}
.uw-code-box {{
  box-sizing: border-box;
  padding: 10px 14px;
  margin: 0 0 16px 0;
  border: 1px solid var(--jp-border-color2, #e5e7eb);
  border-radius: 10px;
  background: var(--jp-layout-color1, #f9fafb);
}}
.uw-code-text {{
  margin: 6px 0 0 0;
  padding: 0;
  font-family: ui-monospace, 'SFMono-Regular', 'DejaVu Sans Mono', Menlo, Consolas, monospace;
  font-size: 12.5px;
  line-height: 1.5;
  white-space: pre;
  overflow-x: auto;
  color: var(--jp-content-font-color1, {TEXT_STRONG});
  background: transparent;
  user-select: all;
  cursor: text;
}}
.uw-code-toggle.jupyter-button.mod-active {{
  background: var(--jp-layout-color2, #eef2ff);
  border-color: var(--jp-brand-color1, {ACCENT});
}}
.uw-sr-only {{
  position: absolute !important;
  width: 1px; height: 1px; padding: 0; margin: -1px;
  overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; border: 0;
}}
/* Text from the log can be any length: it wraps or ends in an ellipsis, never widens the page. */
.uw-empty, .uw-note, .uw-tooltip, .uw-message-text, .uw-caption, .uw-live-warn {{
  overflow-wrap: anywhere;
}}
.uw-tooltip {{ max-width: 360px; }}
.uw-legend-item {{ min-width: 0; max-width: 260px; }}
.uw-legend-item .uw-swatch {{ flex: none; }}
.uw-legend-label {{ overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }}
.uw-picker div.jupyter-widget-tag {{
  max-width: 260px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap;
}}
"""


def style_widget() -> widgets.HTML:
    """A fresh invisible widget holding the ``uw-`` stylesheet (views and page); one per view.

    Repeated stylesheets are harmless, and a view that carries its own renders right wherever it
    is displayed. Every rule is scoped by a ``uw-`` class, so the sheet touches nothing else.
    """
    sheet = widgets.HTML(value=f"<style>{CSS}{PAGE_CSS}</style>")
    sheet.layout.display = "none"
    return sheet


# The name the page uses for the same sheet.
page_style = style_widget
