// Small DOM helpers. Text always goes in as text (never as HTML), so nothing the server sends
// can become markup.
export function byId(id) {
  const node = document.getElementById(id);
  if (!node) throw new Error(`the page has no element #${id}`);
  return node;
}

// el('li', {class: 'note', 'data-id': 5}, 'text', child...)
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === null || value === undefined) continue;
    if (name === 'class') node.className = value;
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  node.append(...children);
  return node;
}

// Shows a one-line result under a form ("Sent to bob.", "Not sent: ..."); empty hides it.
export function say(node, text, { error = false } = {}) {
  node.textContent = text;
  node.hidden = text === '';
  node.classList.toggle('error', error);
}
