-- Note templates: the fields and headings a visit of a kind shows (an eye clinic's visual
-- acuity and pressures under the examination). A visit keeps a copy of the template it was
-- started with, so that changing a template never changes a visit already written, and a
-- signed visit's copy and values are as final as its note (the visits trigger guards them).

CREATE TABLE note_templates (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       text NOT NULL CONSTRAINT note_templates_name_key UNIQUE
               CHECK (length(name) BETWEEN 1 AND 80),
    -- {"headings": {"examination": "Eye examination"}, "fields": [{"key", "label", "unit", "section"}]}
    layout     jsonb NOT NULL CHECK (jsonb_typeof(layout) = 'object'),
    -- The template of visits whose appointment type names none (and of walk-ins from the chart).
    is_default boolean NOT NULL DEFAULT false,
    active     boolean NOT NULL DEFAULT true,
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT note_templates_default_active CHECK (active OR NOT is_default)
);
CREATE UNIQUE INDEX note_templates_one_default ON note_templates (is_default) WHERE is_default;

ALTER TABLE appointment_types ADD COLUMN note_template_id bigint REFERENCES note_templates (id);

-- NULL for visits started before templates existed (they show the five sections only).
ALTER TABLE visits ADD COLUMN template jsonb CHECK (jsonb_typeof(template) = 'object');
ALTER TABLE visits ADD COLUMN template_values jsonb NOT NULL DEFAULT '{}'
    CHECK (jsonb_typeof(template_values) = 'object');

-- The default: the five sections with the systemic examination most out-patient notes record.
INSERT INTO note_templates (name, layout, is_default) VALUES ('General consultation', '{
  "headings": {},
  "fields": [
    {"key": "general_condition", "label": "General condition", "unit": "", "section": "examination"},
    {"key": "cardiovascular_cvs", "label": "Cardiovascular (CVS)", "unit": "", "section": "examination"},
    {"key": "respiratory_rs", "label": "Respiratory (RS)", "unit": "", "section": "examination"},
    {"key": "abdomen_p_a", "label": "Abdomen (P/A)", "unit": "", "section": "examination"},
    {"key": "nervous_system_cns", "label": "Nervous system (CNS)", "unit": "", "section": "examination"}
  ]
}', true);
