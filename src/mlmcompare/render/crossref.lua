-- crossref.lua: the parts of Quarto that mlmcompare's fallback renderer needs,
-- done on pandoc's AST (so code spans and code blocks are never rewritten).
--
--  1. Raw HTML tables (a pandas DataFrame's display) become pandoc tables, so
--     HTML and Typst both get real tables.
--  2. A chunk's div #fig-x / #tbl-x that ends in a .caption div becomes a
--     figure, or gives its first table that id and caption.
--  3. Figures and tables with a fig- / tbl- id are numbered in document order
--     and their captions start "Figure 1: " / "Table 1: ". The Typst template
--     turns Typst's own figure numbering off, so both formats show these
--     numbers. Sections are numbered as pandoc's --number-sections does.
--  4. @fig-x, @tbl-x, @sec-x become links "Figure 1", "Table 2", "Section 3.1"
--     ([-@fig-x]: the number only); an unknown label shows as **?@fig-x** with
--     a warning. Other citations are left as typed.
--  5. Typst only: a .landscape div is set on landscape pages (what Quarto 1.7
--     does: #set page(flipped: true) before it, flipped: false after);
--     relative image paths are made absolute (Typst resolves them against the
--     .typ file) and pixel sizes dropped (Typst shrinks a figure of natural
--     size to the text width). In HTML a .landscape div changes nothing.

local NAMES = { fig = "Figure", tbl = "Table", sec = "Section" }
local NBSP = "\u{a0}"

local function kind_of(id)
  local kind = (id or ""):match("^(%a+)%-")
  return NAMES[kind] and kind or nil
end

local function html_table(raw)
  if raw.format == "html" and raw.text:find("<table") then
    local drop = function() return {} end  -- pandas' <style> element
    return pandoc.read(raw.text, "html").blocks:walk { RawInline = drop, RawBlock = drop }
  end
end

local function captioned(div)
  local kind, last = kind_of(div.identifier), div.content[#div.content]
  if not (kind and last and last.t == "Div" and last.classes:includes("caption")) then
    return nil
  end
  div.content:remove(#div.content)
  local caption = last.content:walk { Para = function(p) return pandoc.Plain(p.content) end }
  local found = false
  local blocks = div.content:walk { Table = function(tbl)
    if found or kind ~= "tbl" then return nil end
    found = true
    tbl.identifier = div.identifier
    tbl.caption = { long = caption }
    return tbl
  end }
  if found then return blocks end
  return pandoc.Figure(div.content, caption, pandoc.Attr(div.identifier))
end

local function prefixed(caption, label)
  local long = caption.long
  if #long == 0 then long = pandoc.Blocks { pandoc.Plain {} } end
  long[1].content:insert(1, pandoc.Space())
  long[1].content:insert(1, pandoc.Str(label .. ":"))
  caption.long = long
  return caption
end

-- numbers for figures, tables and sections; names[id] = "Figure 1" etc.
-- Sections count from the document's top heading level, as pandoc's HTML
-- writer does; meta "heading-top" tells the Typst template that level.
local function numbering(doc, names)
  local counts, levels, top = { fig = 0, tbl = 0 }, {}, 6
  doc:walk { Header = function(h) top = math.min(top, h.level) end }
  doc.meta["heading-top"] = tostring(top)
  local numbered_sections = doc.meta["number-sections"] == true
  local function float(el)
    local kind = kind_of(el.identifier)
    if kind ~= "fig" and kind ~= "tbl" then return nil end
    counts[kind] = counts[kind] + 1
    names[el.identifier] = NAMES[kind] .. NBSP .. counts[kind]
    el.caption = prefixed(el.caption, names[el.identifier])
    return el
  end
  local function header(h)
    if not numbered_sections or h.classes:includes("unnumbered") then
      names[h.identifier] = pandoc.utils.stringify(h.content)
      return nil
    end
    levels[h.level] = (levels[h.level] or 0) + 1
    local parts = {}
    for level = top, h.level do parts[#parts + 1] = tostring(levels[level] or 0) end
    for level = h.level + 1, 9 do levels[level] = nil end
    names[h.identifier] = "Section" .. NBSP .. table.concat(parts, ".")
  end
  return doc:walk { traverse = "topdown", Figure = float, Table = float, Header = header }
end

local function references(names)
  return function(cite)
    for _, c in ipairs(cite.citations) do
      if not kind_of(c.id) then return cite.content end
    end
    local out = pandoc.Inlines {}
    for i, c in ipairs(cite.citations) do
      if i > 1 then out:extend { pandoc.Str(","), pandoc.Space() } end
      if #c.prefix > 0 then out:extend(c.prefix); out:insert(pandoc.Space()) end
      local name = names[c.id]
      if name == nil then
        io.stderr:write("WARNING: unresolved cross-reference @" .. c.id .. "\n")
        out:insert(pandoc.Strong { pandoc.Str("?@" .. c.id) })
      else
        if c.mode == "SuppressAuthor" then name = name:match(NBSP .. "(.*)$") or name end
        out:insert(pandoc.Link(name, "#" .. c.id))
      end
      out:extend(c.suffix)
    end
    return out
  end
end

local function landscape(div)
  if not div.classes:includes("landscape") then return nil end
  local blocks = pandoc.Blocks { pandoc.RawBlock("typst", "#set page(flipped: true)") }
  blocks:extend(div.content)
  blocks:insert(pandoc.RawBlock("typst", "#set page(flipped: false)"))
  return blocks
end

local function typst_image(img)
  if not img.src:match("^/") and not img.src:match("^%a[%w+.-]*:") then
    img.src = pandoc.path.join { PANDOC_STATE.resource_path[1], img.src }
  end
  for _, key in ipairs { "width", "height" } do  -- pixel sizes are for HTML; Typst
    if (img.attributes[key] or "x"):match("^[%d.]+p?x?$") then  -- fits an image
      img.attributes[key] = nil                                -- of natural size
    end
  end
  return img
end

function Pandoc(doc)
  local names = {}
  doc = doc:walk { RawBlock = html_table }
  doc = doc:walk { Div = captioned }
  doc = numbering(doc, names)
  doc = doc:walk { Cite = references(names) }
  if FORMAT:match("typst") then
    doc = doc:walk { Div = landscape, Image = typst_image }
  end
  return doc
end
