// Small DOM helpers. Every string given here becomes text (textContent), never markup:
// customer messages are data and must show literally, "<script>" included.

/**
 * A new element. props: class, text, testid, dataset, on<event> handlers, other attributes.
 * Children: nodes or strings (strings become text nodes).
 */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = String(value);
    else if (key === "testid") node.dataset.testid = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  append(node, ...children);
  return node;
}

/** Append nodes or strings (as text) to ``node``, skipping null/undefined/false. */
export function append(node, ...children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** A fresh copy of the page's <template id="...">'s first element. */
export function fromTemplate(id) {
  const template = document.getElementById(id);
  return template.content.firstElementChild.cloneNode(true);
}

/** The element with ``data-testid`` under ``root`` (the tests and the code name parts alike). */
export function part(root, testid) {
  return root.querySelector(`[data-testid="${testid}"]`);
}

/** Set an element's text (or hide it when there is nothing to say). */
export function setText(node, text) {
  node.textContent = text ?? "";
  node.hidden = text === null || text === undefined || text === "";
}
