// Every row of the design's certification table with in-memory cards (the rows live in
// tests/support/certification-table.ts, shared with the token cards' run).
import { certificationTable, memoryCards } from '../support/certification-table.js';

certificationTable('certification table', memoryCards);
