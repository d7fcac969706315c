// @ts-check
// A markdownlint custom rule: table rows outside a table. A blank line inside a table ends
// it there; the rows after it are no table (they have no delimiter row), only a paragraph of
// pipes, and no built-in rule reports that. Here every paragraph that begins with `|` is one.
'use strict';

/** @type {import('markdownlint').Rule} */
module.exports = {
  names: ['no-orphan-table-rows'],
  description: 'Table rows outside a table (a blank line splitting a table?)',
  tags: ['table'],
  parser: 'micromark',
  function: (params, onError) => {
    /** @param {readonly import('markdownlint').MicromarkToken[]} tokens */
    const visit = (tokens) => {
      for (const token of tokens) {
        if (token.type === 'paragraph' && token.text.trimStart().startsWith('|')) {
          onError({ lineNumber: token.startLine, context: params.lines[token.startLine - 1]?.trim() });
        }
        visit(token.children);
      }
    };
    visit(params.parsers.micromark.tokens);
  },
};
