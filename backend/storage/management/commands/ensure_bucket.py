from django.core.management.base import BaseCommand, CommandError

from backend.storage.blobs import S3BlobStore, get_blob_store


class Command(BaseCommand):
    help = "Create the S3 bucket of the blob store if it does not exist (FLOWYARD_BLOB_BACKEND=s3)."

    def handle(self, *args: object, **options: object) -> None:
        store = get_blob_store()
        if not isinstance(store, S3BlobStore):
            raise CommandError(f"the blob store is {store!r}, not S3: nothing to create")
        created = store.ensure_bucket()
        state = "created" if created else "already exists"
        self.stdout.write(f"bucket {store.bucket} {state}")
