import { describe, expect, it } from 'vitest';
import { keywordDetector, patternDetector } from '../../../src/privacy/detectors/custom.js';

describe('patternDetector', () => {
  it('reports every match with the given kind', () => {
    const detect = patternDetector('custom.employee_id', 'EMP-\\d{6}');
    const text = 'EMP-123456 and EMP-654321 but not EMP-12';
    expect(detect(text)).toEqual([
      { kind: 'custom.employee_id', start: 0, end: 10 },
      { kind: 'custom.employee_id', start: 15, end: 25 },
    ]);
  });

  it('honours flags and RegExp objects, without keeping state between calls', () => {
    const detect = patternDetector('custom.x', /project-[a-z]+/i);
    expect(detect('PROJECT-ZEUS')).toHaveLength(1);
    expect(detect('PROJECT-ZEUS')).toHaveLength(1);
    expect(patternDetector('custom.y', 'abc', 'i')('ABC')).toHaveLength(1);
  });

  it('skips empty matches instead of looping', () => {
    expect(patternDetector('custom.z', 'x*')('aaa')).toEqual([]);
    expect(patternDetector('custom.z', 'x*')('axxa')).toEqual([{ kind: 'custom.z', start: 1, end: 3 }]);
  });
});

describe('keywordDetector', () => {
  const detect = keywordDetector('keyword.codename', ['Project Atlas', 'bluebird', 'c++']);

  it.each(['project atlas', 'PROJECT ATLAS is late', 'about Bluebird.', '(bluebird)', 'we use C++ here'])(
    'matches whole words case-insensitively: %s',
    (text) => {
      expect(detect(text).map((f) => f.kind)).toEqual(['keyword.codename']);
    },
  );

  it.each(['bluebirds', 'atlassian project', 'project atlases', 'bluebird_v2', 'xbluebird', 'ébluebird'])(
    'does not match inside words: %s',
    (text) => {
      expect(detect(text)).toEqual([]);
    },
  );

  it('matches no text when the list is empty', () => {
    expect(keywordDetector('keyword.none', [])('anything')).toEqual([]);
  });
});
