'use strict';
// Just enough of ScriptUI (Window, Panel, group, statictext, edittext, button, dropdownlist, listbox with items
// and subItems, progressbar) to run jsx/aefarm_panel.jsx under Node and press its buttons.

class ListItem {
  constructor(text, columns) {
    this.text = text;
    this.selected = false;
    this.index = 0;
    this.subItems = Array.from({ length: Math.max(0, columns - 1) }, () => ({ text: '' }));
  }
}

class Control {
  constructor(type, text, props) {
    this.type = type;
    this.props = props || {};
    this.children = [];
    this.items = [];
    this.text = typeof text === 'string' ? text : '';
    this.value = 0;
    this._selection = null;
    this.layout = { layout() {}, resize() {} };
    if (Array.isArray(text)) for (let i = 0; i < text.length; i++) this._addItem(text[i]); // an ES3-realm array
  }
  _addItem(text) {
    const item = new ListItem(text, this.props.numberOfColumns || 1);
    item.index = this.items.length;
    this.items.push(item);
    return item;
  }
  add(type, bounds, text, props) {
    if (type === 'item') return this._addItem(bounds); // listbox.add("item", text)
    const child = new Control(type, text, props);
    this.children.push(child);
    return child;
  }
  removeAll() { this.items = []; }
  get selection() {
    if (this.type === 'listbox') return this.items.filter((i) => i.selected);
    return this._selection;
  }
  set selection(value) {
    this._selection = typeof value === 'number' ? (value >= 0 ? this.items[value] : null) : value;
  }
  center() {}
  show() { return 1; }
  /** Every control below this one, depth first. */
  all() { return this.children.flatMap((c) => [c, ...c.all()]); }
  find(type, text) { return this.all().find((c) => c.type === type && (text === undefined || c.text === text)); }
}

class Window extends Control {
  constructor(type, title) { super('window', title); this.windowType = type; }
}

class Panel extends Control {
  constructor() { super('panel', ''); }
}

module.exports = { Control, Window, Panel, ListItem };
