"""What a study runs, before anything is run: its settings (config), its method names
(recipes), the named models and their images (named_models), the models as the loop takes them
(subjects) and a user's own images (user_data). Nothing here reads or writes a database."""
